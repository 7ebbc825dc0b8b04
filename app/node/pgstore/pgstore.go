// Package pgstore is the clinic node's kv.DB on PostgreSQL, so that several
// medwallet-node processes can share one database: every key of the node's
// kv layout (witness/…, shl/…) is a row of one table, Update runs at
// SERIALIZABLE isolation and is retried on serialisation failures, and View
// reads one REPEATABLE READ READ ONLY snapshot. Whatever the wallet packages
// guarantee inside one kv transaction on Badger therefore holds across
// nodes. It never creates or changes the schema on its own: Migrate does,
// and Open refuses a database whose schema it does not know.
package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"medwallet/wallet/kv"
)

// Defaults for Options left zero.
const (
	// DefaultTxTimeout bounds one attempt of a transaction, from taking a
	// connection to COMMIT: a node request has a deadline, so must its
	// database work.
	DefaultTxTimeout = 15 * time.Second
	// DefaultMaxAttempts bounds how often an Update is tried when the
	// database aborts it to keep transactions serialisable.
	DefaultMaxAttempts = 30
)

// ErrBusy means an Update was aborted by the database as conflicting with
// concurrent ones more often than the retry bound: the request may be
// repeated later.
var ErrBusy = errors.New("the database kept aborting the change because of concurrent ones; try again")

// ErrReadOnly means Set or Delete was called inside View.
var ErrReadOnly = errors.New("write in a read-only transaction")

// Options configure Open.
type Options struct {
	TxTimeout   time.Duration
	MaxAttempts int
	// MaxConns bounds the pool's connections; zero means pgxpool's default
	// (the larger of 4 and the number of CPUs).
	MaxConns int32
}

// DB is a kv.DB over a PostgreSQL database migrated by Migrate.
type DB struct {
	pool        *pgxpool.Pool
	txTimeout   time.Duration
	maxAttempts int
	retries     atomic.Int64
}

var _ kv.DB = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string) and checks its schema: an unmigrated or older database
// gives an error wrapping ErrNotMigrated, a newer one ErrUnknownSchema.
func Open(ctx context.Context, url string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	// A witness may send a cosignature only once the state it vouches for
	// is on stable storage (C2SP tlog-witness), and a commit is what the
	// node waits for: make commits durable whatever the server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	d := &DB{pool: pool, txTimeout: o.TxTimeout, maxAttempts: o.MaxAttempts}
	if d.txTimeout <= 0 {
		d.txTimeout = DefaultTxTimeout
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = DefaultMaxAttempts
	}
	return d, nil
}

// Close closes every connection.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Ping runs one query within ctx: the node is ready only while it answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("database does not answer: %w", err)
	}
	return nil
}

// Retries is how many Update attempts were aborted by the database and run
// again since Open.
func (d *DB) Retries() int64 { return d.retries.Load() }

// View runs fn on one consistent, read-only snapshot.
func (d *DB) View(fn func(kv.Txn) error) error {
	err, _ := d.attempt(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, true, fn)
	return err
}

// Update runs fn in a SERIALIZABLE transaction and commits it. When the
// database aborts the transaction to keep the history serialisable
// (SQLSTATE 40001, or 40P01 for a deadlock), fn runs again on a fresh
// transaction, up to MaxAttempts times: fn must not act outside the
// transaction except through variables it sets afresh on every run.
func (d *DB) Update(fn func(kv.Txn) error) error {
	for i := 0; ; i++ {
		err, retry := d.attempt(pgx.TxOptions{IsoLevel: pgx.Serializable}, false, fn)
		if !retry {
			return err
		}
		if i+1 >= d.maxAttempts {
			return fmt.Errorf("%w (%d attempts): %w", ErrBusy, i+1, err)
		}
		d.retries.Add(1)
		// Jittered, growing backoff so that conflicting nodes spread out.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << min(i, 7))))
	}
}

// attempt runs fn once in a transaction; retry reports a serialisation
// failure worth another attempt.
func (d *DB) attempt(opts pgx.TxOptions, readOnly bool, fn func(kv.Txn) error) (err error, retry bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d.txTimeout)
	defer cancel()
	tx, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin a database transaction: %w", err), false
	}
	t := &txn{ctx: ctx, tx: tx, readOnly: readOnly}
	defer tx.Rollback(context.Background())
	if err := fn(t); err != nil {
		if serializationFailure(err) || serializationFailure(t.dbErr) {
			return err, true
		}
		return err, false
	}
	if t.dbErr != nil {
		// fn swallowed a database error: the transaction is aborted and
		// must not look committed.
		return fmt.Errorf("a statement of the transaction failed: %w", t.dbErr), serializationFailure(t.dbErr)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err), serializationFailure(err)
	}
	return nil, false
}

func serializationFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// txn is one attempt's transaction. dbErr keeps the first database error,
// after which PostgreSQL refuses every statement until rollback.
type txn struct {
	ctx      context.Context
	tx       pgx.Tx
	readOnly bool
	dbErr    error
}

func (t *txn) fail(err error) error {
	if t.dbErr == nil {
		t.dbErr = err
	}
	return err
}

func (t *txn) Get(key []byte) ([]byte, error) {
	var v []byte
	err := t.tx.QueryRow(t.ctx, "SELECT value FROM kv WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", key, kv.ErrNotFound)
	}
	if err != nil {
		return nil, t.fail(fmt.Errorf("read %q: %w", key, err))
	}
	return v, nil
}

func (t *txn) Set(key, value []byte) error {
	if t.readOnly {
		return ErrReadOnly
	}
	if value == nil {
		value = []byte{}
	}
	_, err := t.tx.Exec(t.ctx, "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	if err != nil {
		return t.fail(fmt.Errorf("write %q: %w", key, err))
	}
	return nil
}

func (t *txn) Delete(key []byte) error {
	if t.readOnly {
		return ErrReadOnly
	}
	if _, err := t.tx.Exec(t.ctx, "DELETE FROM kv WHERE key = $1", key); err != nil {
		return t.fail(fmt.Errorf("delete %q: %w", key, err))
	}
	return nil
}

// Iteration reads a page of rows at a time and calls fn after the page's
// query is closed, so fn may use the transaction (one connection runs one
// query at a time). A page ends at pageRows rows or once pageBytes of
// values are read, so large hosted files are not all held at once.
const (
	pageRows  = 256
	pageBytes = 8 << 20
)

type row struct{ key, value []byte }

func (t *txn) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	return t.iterate(prefix, true, func(r row) error { return fn(r.key, r.value) })
}

// IterateKeys lists keys without reading values.
func (t *txn) IterateKeys(prefix []byte, fn func(key []byte) error) error {
	return t.iterate(prefix, false, func(r row) error { return fn(r.key) })
}

func (t *txn) iterate(prefix []byte, values bool, fn func(row) error) error {
	end := prefixEnd(prefix)
	from, inclusive := prefix, true
	if from == nil {
		from = []byte{} // NULL would compare as unknown and match nothing
	}
	for {
		page, more, err := t.page(from, inclusive, end, values)
		if err != nil {
			return t.fail(fmt.Errorf("list %q: %w", prefix, err))
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				if errors.Is(err, kv.ErrStop) {
					return nil
				}
				return err
			}
		}
		if !more {
			return nil
		}
		from, inclusive = page[len(page)-1].key, false
	}
}

func (t *txn) page(from []byte, inclusive bool, end []byte, values bool) ([]row, bool, error) {
	cols, op := "key, NULL::bytea", ">"
	if values {
		cols = "key, value"
	}
	if inclusive {
		op = ">="
	}
	q := "SELECT " + cols + " FROM kv WHERE key " + op + " $1"
	args := []any{from}
	if end != nil {
		q += " AND key < $2"
		args = append(args, end)
	}
	q += fmt.Sprintf(" ORDER BY key LIMIT %d", pageRows)
	rows, err := t.tx.Query(t.ctx, q, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var page []row
	size := 0
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.key, &r.value); err != nil {
			return nil, false, err
		}
		page = append(page, r)
		size += len(r.key) + len(r.value)
		if size >= pageBytes {
			// Stop reading; the next page starts after this key.
			return page, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return page, len(page) == pageRows, nil
}

// prefixEnd is the smallest key greater than every key with prefix, or nil
// when there is none (an empty prefix or one of only 0xff bytes).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
