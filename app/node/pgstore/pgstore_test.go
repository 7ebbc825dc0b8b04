package pgstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"medwallet/app/node/pgstore/pgtest"
	"medwallet/wallet/kv"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openMigrated returns a fresh migrated database and a DB on it.
func openMigrated(t *testing.T) (*DB, string) {
	t.Helper()
	url := pgtest.Require(t).NewDatabase(t)
	if _, _, err := Migrate(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	return openDB(t, url), url
}

func openDB(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUpdateIsAllOrNothingAndViewSeesCommittedState(t *testing.T) {
	db, _ := openMigrated(t)
	err := db.Update(func(tx kv.Txn) error {
		for _, k := range []string{"a/2", "a/1", "b/1", "a/3"} {
			if err := tx.Set([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Delete([]byte("a/3"))
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := db.Update(func(tx kv.Txn) error {
		if err := tx.Set([]byte("a/9"), []byte("x")); err != nil {
			return err
		}
		return tx.Delete([]byte("a/1"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx kv.Txn) error {
		tx.Set([]byte("a/1"), []byte("back"))
		tx.Delete([]byte("a/9"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("a failing update returned %v, want the callback's error", err)
	}
	got := listAll(t, db, "a/")
	if got != "a/2=va/2,a/9=x" {
		t.Fatalf("after a failed update: %s", got)
	}
	db.View(func(tx kv.Txn) error {
		if _, err := tx.Get([]byte("a/1")); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("deleted key: %v, want ErrNotFound", err)
		}
		if v, err := tx.Get([]byte("b/1")); err != nil || string(v) != "vb/1" {
			t.Fatalf("b/1 = %q, %v", v, err)
		}
		return nil
	})
}

func listAll(t *testing.T, db kv.DB, prefix string) string {
	t.Helper()
	var got []string
	if err := db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(prefix), func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(got, ",")
}

func TestIterateIsUnsignedByteOrderAndStaysInsideThePrefix(t *testing.T) {
	db, _ := openMigrated(t)
	keys := [][]byte{
		{'p'}, {'p', 0x00}, {'p', 0x01}, {'p', 0x7f}, {'p', 0x80}, {'p', 0xff}, {'p', 0xff, 0x00}, {'p', 0xff, 0xff},
		{'o', 0xff}, {'q'}, {0xff}, {0xff, 0xff, 0x01}, {0x00},
	}
	if err := db.Update(func(tx kv.Txn) error {
		for _, k := range keys {
			if err := tx.Set(k, []byte{1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prefix []byte
		want   [][]byte
	}{
		{[]byte("p"), [][]byte{{'p'}, {'p', 0x00}, {'p', 0x01}, {'p', 0x7f}, {'p', 0x80}, {'p', 0xff}, {'p', 0xff, 0x00}, {'p', 0xff, 0xff}}},
		{[]byte{'p', 0xff}, [][]byte{{'p', 0xff}, {'p', 0xff, 0x00}, {'p', 0xff, 0xff}}},
		{[]byte{0xff}, [][]byte{{0xff}, {0xff, 0xff, 0x01}}},
		{[]byte{0xff, 0xff}, [][]byte{{0xff, 0xff, 0x01}}},
		{nil, [][]byte{{0x00}, {'o', 0xff}, {'p'}, {'p', 0x00}, {'p', 0x01}, {'p', 0x7f}, {'p', 0x80}, {'p', 0xff}, {'p', 0xff, 0x00}, {'p', 0xff, 0xff}, {'q'}, {0xff}, {0xff, 0xff, 0x01}}},
	} {
		var got, gotKeys [][]byte
		db.View(func(tx kv.Txn) error {
			tx.Iterate(c.prefix, func(k, _ []byte) error { got = append(got, k); return nil })
			return kv.Keys(tx, c.prefix, func(k []byte) error { gotKeys = append(gotKeys, k); return nil })
		})
		if fmt.Sprint(got) != fmt.Sprint(c.want) || fmt.Sprint(gotKeys) != fmt.Sprint(c.want) {
			t.Errorf("prefix %x: Iterate %x, Keys %x, want %x", c.prefix, got, gotKeys, c.want)
		}
	}
}

func TestIteratePagesThroughManyRowsAndTheCallbackMayQuery(t *testing.T) {
	db, _ := openMigrated(t)
	const n = 3*pageRows + 7
	if err := db.Update(func(tx kv.Txn) error {
		for i := range n {
			if err := tx.Set(binary.BigEndian.AppendUint32([]byte("r/"), uint32(i)), fmt.Appendf(nil, "%d", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := db.Update(func(tx kv.Txn) error {
		return tx.Iterate([]byte("r/"), func(k, v []byte) error {
			if i := binary.BigEndian.Uint32(k[2:]); int(i) != seen || string(v) != fmt.Sprint(i) {
				return fmt.Errorf("row %d is %x=%s", seen, k, v)
			}
			seen++
			// Reading and writing inside the callback uses the same
			// connection the iteration reads from.
			if _, err := tx.Get(k); err != nil {
				return err
			}
			return tx.Set(append([]byte("copy/"), k...), v)
		})
	})
	if err != nil || seen != n {
		t.Fatalf("iterated %d of %d rows: %v", seen, n, err)
	}
	stopped := 0
	db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte("copy/"), func(k, v []byte) error {
			stopped++
			if stopped == pageRows+1 {
				return kv.ErrStop
			}
			return nil
		})
	})
	if stopped != pageRows+1 {
		t.Fatalf("ErrStop after %d rows", stopped)
	}
}

func TestIterateLargeValuesArePagedByBytes(t *testing.T) {
	db, _ := openMigrated(t)
	big := bytes.Repeat([]byte{0xab}, 3<<20)
	for i := range 5 {
		if err := db.Update(func(tx kv.Txn) error { return tx.Set([]byte{'f', byte(i)}, big) }); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte("f"), func(k, v []byte) error {
			if !bytes.Equal(k, []byte{'f', byte(n)}) || !bytes.Equal(v, big) {
				t.Fatalf("value %d wrong (key %x, %d bytes)", n, k, len(v))
			}
			n++
			return nil
		})
	})
	if n != 5 {
		t.Fatalf("iterated %d large values, want 5", n)
	}
}

func TestViewRefusesWrites(t *testing.T) {
	db, _ := openMigrated(t)
	err := db.View(func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) })
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Set in View: %v", err)
	}
	if got := listAll(t, db, ""); got != "" {
		t.Fatalf("View wrote %s", got)
	}
}

// TestConcurrentReadModifyWriteAcrossHandlesLosesNoUpdate plays several
// nodes: separate pools on one database incrementing one counter with a
// read and a write in each transaction. Under anything weaker than
// serialisable transactions (or without retries) updates are lost or
// refused.
func TestConcurrentReadModifyWriteAcrossHandlesLosesNoUpdate(t *testing.T) {
	a, url := openMigrated(t)
	handles := []*DB{a, openDB(t, url), openDB(t, url)}
	const perWorker, workers = 20, 6
	key := []byte("counter")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		db := handles[w%len(handles)]
		wg.Go(func() {
			for range perWorker {
				err := db.Update(func(tx kv.Txn) error {
					v, err := tx.Get(key)
					n := uint64(0)
					if err == nil {
						n = binary.BigEndian.Uint64(v)
					} else if !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					return tx.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n uint64
	a.View(func(tx kv.Txn) error {
		v, err := tx.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		n = binary.BigEndian.Uint64(v)
		return nil
	})
	if n != perWorker*workers {
		t.Fatalf("counter = %d after %d increments", n, perWorker*workers)
	}
	t.Logf("serialisation retries: %d", handles[0].Retries()+handles[1].Retries()+handles[2].Retries())
}

// TestWriteSkewOnAPrefixIsPrevented: two transactions each check that a
// prefix is empty and then write a different key under it (the shape of
// "enroll once" or "one checkpoint per size"). Serialisable transactions
// let only one of them commit first; the other reruns and sees the row.
func TestWriteSkewOnAPrefixIsPrevented(t *testing.T) {
	a, url := openMigrated(t)
	b := openDB(t, url)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrote := 0
	for i, db := range []*DB{a, b, a, b} {
		wg.Go(func() {
			<-start
			err := db.Update(func(tx kv.Txn) error {
				empty := true
				if err := tx.Iterate([]byte("once/"), func(k, v []byte) error { empty = false; return kv.ErrStop }); err != nil {
					return err
				}
				if !empty {
					return nil
				}
				mu.Lock()
				wrote++
				mu.Unlock()
				return tx.Set(fmt.Appendf(nil, "once/%d", i), []byte("x"))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := listAll(t, a, "once/"); strings.Count(got, "=") != 1 {
		t.Fatalf("both sides of a write skew committed: %s", got)
	}
}

func TestOpenRefusesAnUnmigratedDatabase(t *testing.T) {
	url := pgtest.Require(t).NewDatabase(t)
	_, err := Open(context.Background(), url, Options{})
	if !errors.Is(err, ErrNotMigrated) || !strings.Contains(err.Error(), "medwallet-node migrate") {
		t.Fatalf("open unmigrated: %v", err)
	}
}

func TestOpenRefusesASchemaNewerThanItKnows(t *testing.T) {
	_, url := openMigrated(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, Options{}); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("open newer schema: %v", err)
	}
	if _, _, err := Migrate(ctx, url); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("migrate newer schema: %v", err)
	}
}

func TestConcurrentMigrationsApplyEachVersionOnce(t *testing.T) {
	url := pgtest.Require(t).NewDatabase(t)
	var wg sync.WaitGroup
	froms := make(chan int, 4)
	for range 4 {
		wg.Go(func() {
			from, to, err := Migrate(context.Background(), url)
			if err != nil || to != SchemaVersion {
				t.Errorf("migrate: %d→%d %v", from, to, err)
			}
			froms <- from
		})
	}
	wg.Wait()
	close(froms)
	fresh := 0
	for f := range froms {
		if f == 0 {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d of 4 concurrent migrations started from an empty schema, want 1", fresh)
	}
	openDB(t, url)
}

func TestRedactHidesPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://node:s3cret@db.example:5432/medwallet?sslmode=verify-full": "postgres://node:xxxxx@db.example:5432/medwallet?sslmode=verify-full",
		"postgres://node@db.example/medwallet":                                 "postgres://node@db.example/medwallet",
		"host=db user=node password=s3cret":                                    "(connection string with a password)",
	} {
		if got := Redact(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestABadStoreURLDoesNotEchoItsPassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://node:s3cret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error for an unreachable store: %v", err)
	}
}

func TestImportCopiesEverythingAndRefusesADatabaseInUse(t *testing.T) {
	src := kv.Memory()
	want := map[string]string{}
	if err := src.Update(func(tx kv.Txn) error {
		for i := range 1300 {
			k, v := fmt.Sprintf("k/%05d", i), strings.Repeat("v", i%700)
			want[k] = v
			if err := tx.Set([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return tx.Set([]byte{0xff, 0x00}, []byte{})
	}); err != nil {
		t.Fatal(err)
	}
	db, _ := openMigrated(t)
	n, err := db.Import(src)
	if err != nil || n != 1301 {
		t.Fatalf("import: %d keys, %v", n, err)
	}
	got := 0
	db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte("k/"), func(k, v []byte) error {
			if want[string(k)] != string(v) {
				t.Fatalf("%s imported as %d bytes", k, len(v))
			}
			got++
			return nil
		})
	})
	if got != 1300 {
		t.Fatalf("%d keys under k/ after import", got)
	}
	if _, err := db.Import(src); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second import: %v, want ErrNotEmpty", err)
	}
}

// TestCommitsAreDurableWhateverTheServerDefault: the test server runs with
// synchronous_commit off; the store's own sessions must not.
func TestCommitsAreDurableWhateverTheServerDefault(t *testing.T) {
	db, _ := openMigrated(t)
	var setting string
	if err := db.pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != "on" {
		t.Fatalf("synchronous_commit = %s in the store's sessions, want on", setting)
	}
}

// conflictOnce runs an Update on a that reads key, lets b commit a write to
// key, then writes key itself: a read-write conflict PostgreSQL must abort.
// It returns the Update's error and how many times its callback ran.
func conflictOnce(t *testing.T, a, b *DB, key []byte) (error, int) {
	t.Helper()
	runs := 0
	err := a.Update(func(tx kv.Txn) error {
		runs++
		if _, err := tx.Get(key); err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if runs == 1 {
			if err := b.Update(func(tx kv.Txn) error { return tx.Set(key, []byte("b")) }); err != nil {
				t.Fatal(err)
			}
		}
		return tx.Set(key, fmt.Appendf(nil, "a%d", runs))
	})
	return err, runs
}

func TestUpdateRunsAgainAfterASerializationFailure(t *testing.T) {
	a, url := openMigrated(t)
	b := openDB(t, url)
	err, runs := conflictOnce(t, a, b, []byte("k"))
	if err != nil || runs != 2 || a.Retries() != 1 {
		t.Fatalf("update after a conflict: %v, callback ran %d times, %d retries; want success on the second run", err, runs, a.Retries())
	}
	if got := listAll(t, a, "k"); got != "k=a2" {
		t.Fatalf("stored %s, want the second run's write", got)
	}
}

func TestUpdateGivesUpWithErrBusyAfterItsBound(t *testing.T) {
	_, url := openMigrated(t)
	a, err := Open(context.Background(), url, Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := openDB(t, url)
	err, runs := conflictOnce(t, a, b, []byte("k"))
	if !errors.Is(err, ErrBusy) || runs != 1 {
		t.Fatalf("update with one attempt after a conflict: %v (ran %d times), want ErrBusy", err, runs)
	}
	if got := listAll(t, a, "k"); got != "k=b" {
		t.Fatalf("stored %s, want only the other transaction's write", got)
	}
}
