package pgtest

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestServerAnswersOnLoopbackWithSeparateDatabases(t *testing.T) {
	srv := Require(t)
	ctx := context.Background()
	a, b := srv.NewDatabase(t), srv.NewDatabase(t)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var addr, db string
	if err := conn.QueryRow(ctx, "SELECT host(inet_server_addr()), current_database()").Scan(&addr, &db); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" {
		t.Fatalf("server reached at %s, want only loopback", addr)
	}
	if "postgres://postgres@127.0.0.1:"+strconv.Itoa(srv.Port)+"/"+db+"?sslmode=disable" != a {
		t.Fatalf("connected to database %s, URL %s", db, a)
	}
	var superuser bool
	if err := conn.QueryRow(ctx, "SELECT current_setting('is_superuser') = 'on'").Scan(&superuser); err != nil || !superuser {
		t.Fatalf("test role is not the cluster's superuser (%v): migrations could not create tables", err)
	}
}
