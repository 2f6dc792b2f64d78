// Package queue runs River, hlsd's durable job queue, on the database that
// holds the catalog, whichever it is: SQLite (riversqlite) or Postgres
// (riverpgxv5).
//
// River's client is generic in its driver's transaction type (*sql.Tx for
// SQLite, pgx.Tx for Postgres). Queue hides that type: jobs are inserted in
// a catalog transaction (the hlsd.Catalog that hlsd.Database.Tx hands out),
// which the backend unwraps to its driver's transaction. So the service
// (internal/library) is written once for every backend, and a media row and
// its job still commit together.
package queue

import (
	"context"
	"fmt"

	"github.com/hlsd/hlsd"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Queue is a River client on one database, seen without its transaction
// type.
type Queue interface {
	// Start starts fetching and working jobs (river.Client.Start).
	Start(ctx context.Context) error
	// StopAndCancel cancels running jobs and stops (river.Client.StopAndCancel).
	StopAndCancel(ctx context.Context) error
	// Stopped is closed once the client has stopped.
	Stopped() <-chan struct{}
	// InsertTx inserts a job inside tx, a transaction of the catalog on the
	// same database, so the job exists exacatTxy when tx's changes do.
	InsertTx(ctx context.Context, tx hlsd.Catalog, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// Executor runs River's own queries on the database (used to take back
	// jobs a dead process left running).
	Executor() riverdriver.Executor
}

// Opener makes the Queue that runs cfg's queues and workers, after applying
// River's migrations to the database. The service calls it once its workers
// exist.
type Opener func(ctx context.Context, cfg *river.Config) (Queue, error)

// New returns the Opener of a River queue on driver. unwrap gives the
// driver's transaction inside a catalog transaction of type TxCatalog.
func New[TTx any, TxCatalog hlsd.Catalog](driver riverdriver.Driver[TTx], unwrap func(TxCatalog) TTx) Opener {
	return func(ctx context.Context, cfg *river.Config) (Queue, error) {
		migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("river migrator: %w", err)
		}
		if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return nil, fmt.Errorf("river migrate: %w", err)
		}
		c, err := river.NewClient(driver, cfg)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		return &client[TTx, TxCatalog]{c: c, driver: driver, unwrap: unwrap}, nil
	}
}

// client is Queue on one driver.
type client[TTx any, TxCatalog hlsd.Catalog] struct {
	c      *river.Client[TTx]
	driver riverdriver.Driver[TTx]
	unwrap func(TxCatalog) TTx
}

func (q *client[TTx, TxCatalog]) Start(ctx context.Context) error { return q.c.Start(ctx) }

func (q *client[TTx, TxCatalog]) StopAndCancel(ctx context.Context) error {
	return q.c.StopAndCancel(ctx)
}

func (q *client[TTx, TxCatalog]) Stopped() <-chan struct{} { return q.c.Stopped() }

func (q *client[TTx, TxCatalog]) Executor() riverdriver.Executor { return q.driver.GetExecutor() }

func (q *client[TTx, TxCatalog]) InsertTx(ctx context.Context, tx hlsd.Catalog, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	catTx, ok := tx.(TxCatalog)
	if !ok {
		// A programming error: a transaction of another database.
		return nil, fmt.Errorf("insert %s job: %T is not a transaction of the queue's database", args.Kind(), tx)
	}
	return q.c.InsertTx(ctx, q.unwrap(catTx), args, opts)
}
