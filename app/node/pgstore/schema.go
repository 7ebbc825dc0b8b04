package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema's versions, in order: migrations[i] takes the
// schema from version i to i+1. Append only; never edit a released one.
//
// Version 1 is one table of byte keys and values. The node's state is
// already laid out as kv keys by the packages that own it (witness/log/…,
// shl/s/…, shl/f/…, shl/l/…), and its invariants are stated as kv
// transactions; one table with SERIALIZABLE transactions keeps exactly
// those guarantees across nodes, with one code path for Badger and
// PostgreSQL. bytea compares as unsigned bytes, so ORDER BY key is the
// byte order kv.Txn.Iterate promises.
var migrations = []string{
	`CREATE TABLE kv (
		key   bytea PRIMARY KEY,
		value bytea NOT NULL
	)`,
}

// SchemaVersion is the schema this build reads and writes.
var SchemaVersion = len(migrations)

// ErrNotMigrated means the database lacks the node's schema or has an
// older version of it.
var ErrNotMigrated = errors.New("the database has not been migrated to this version of medwallet-node: run `medwallet-node migrate --store URL` first")

// ErrUnknownSchema means the database was migrated by a newer
// medwallet-node than this one.
var ErrUnknownSchema = errors.New("the database schema is newer than this medwallet-node knows: upgrade this node (every node sharing a database must run a version that knows its schema)")

// migrationLock is the advisory lock key that serialises concurrent
// `migrate` runs ("mwmigr").
const migrationLock = 0x6d776d696772

func currentVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v *int
	err := q.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	v, err := currentVersion(ctx, pool)
	if err != nil {
		return err
	}
	switch {
	case v > SchemaVersion:
		return fmt.Errorf("%w (database at version %d, this node knows up to %d)", ErrUnknownSchema, v, SchemaVersion)
	case v < SchemaVersion:
		return fmt.Errorf("%w (database at version %d, this node needs %d)", ErrNotMigrated, v, SchemaVersion)
	}
	return nil
}

// Migrate brings the database at url to SchemaVersion, applying each
// missing migration in one transaction, and returns the versions before
// and after. Concurrent runs wait for each other; a database newer than
// this build is left alone with ErrUnknownSchema.
func Migrate(ctx context.Context, url string) (from, to int, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate %s: %w", Redact(url), err)
	}
	defer conn.Close(context.Background())
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		if from, err = currentVersion(ctx, tx); err != nil {
			return err
		}
		if from > SchemaVersion {
			return fmt.Errorf("%w (database at version %d, this node knows up to %d)", ErrUnknownSchema, from, SchemaVersion)
		}
		for v := from; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v+1); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("migrate %s: %w", Redact(url), err)
	}
	return from, SchemaVersion, nil
}

// Redact is url with any password replaced, for messages and logs.
func Redact(u string) string {
	if p, err := url.Parse(u); err == nil && p.Scheme != "" && p.User != nil {
		if _, has := p.User.Password(); has {
			p.User = url.UserPassword(p.User.Username(), "xxxxx")
		}
		return p.String()
	}
	if strings.Contains(u, "password=") {
		return "(connection string with a password)"
	}
	return u
}
