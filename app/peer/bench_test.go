package peer

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
)

const benchRawProtocol = "/medwallet/bench-raw/1.0.0"

// BenchmarkTransfer fetches a payload over HTTP over a libp2p stream (the
// path shares take), beside the same bytes over a raw libp2p stream and a raw
// loopback TCP connection, each measured in the same run. The HTTP figure's
// goal is within 1.5× of the raw libp2p stream.
func BenchmarkTransfer(b *testing.B) {
	for _, size := range []int{1 << 20, 50 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i)
		}
		name := fmt.Sprintf("%dMB", size>>20)

		// The guard stays on, with a rate limit the benchmark loop cannot hit.
		server := newHost(b, "bench-server", Config{ListenAddrs: []string{loopbackTCP},
			Limits: Limits{RequestsPerSecond: 1e6, Burst: 1e6}})
		client := newHost(b, "bench-client", Config{ListenAddrs: []string{loopbackTCP}})
		mux := http.NewServeMux()
		mux.HandleFunc("GET /blob", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			_, _ = w.Write(payload)
		})
		if err := server.Serve(mux); err != nil {
			b.Fatal(err)
		}
		server.Libp2p().SetStreamHandler(benchRawProtocol, func(s network.Stream) {
			_, _ = s.Write(payload)
			_ = s.CloseWrite()
			_, _ = io.Copy(io.Discard, s)
			_ = s.Close()
		})
		if err := client.Connect(context.Background(), server.AddrInfo()); err != nil {
			b.Fatal(err)
		}

		b.Run(name+"/http-over-libp2p", func(b *testing.B) {
			c := client.Client(server.AddrInfo())
			b.SetBytes(int64(size))
			for b.Loop() {
				resp, err := c.Get("http://x/blob")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				if err != nil || n != int64(size) {
					b.Fatalf("read %d of %d bytes: %v", n, size, err)
				}
			}
		})
		b.Run(name+"/reference-raw-libp2p-stream", func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				s, err := client.Libp2p().NewStream(context.Background(), server.ID(), benchRawProtocol)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, s)
				_ = s.Close()
				if err != nil || n != int64(size) {
					b.Fatalf("read %d of %d bytes: %v", n, size, err)
				}
			}
		})
		b.Run(name+"/reference-raw-tcp", func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write(payload)
					_ = c.Close()
				}
			}()
			b.SetBytes(int64(size))
			for b.Loop() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, c)
				_ = c.Close()
				if err != nil || n != int64(size) {
					b.Fatalf("read %d of %d bytes: %v", n, size, err)
				}
			}
		})
		_ = server.Close()
		_ = client.Close()
	}
}
