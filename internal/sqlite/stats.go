package sqlite

import (
	"context"
	"fmt"

	"github.com/hlsd/hlsd/internal/catalogsql"
)

// JobCounts counts River's jobs by queue and state ([queue, state] → n),
// for metrics.
func (d *DB) JobCounts(ctx context.Context) (map[[2]string]int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT queue, state, count(*) FROM river_job GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	return catalogsql.JobCounts(rows)
}

// StoredBytes sums the sources' sizes and the presentations' segment bytes
// recorded in the catalog.
func (d *DB) StoredBytes(ctx context.Context) (sources, presentations int64, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT
		coalesce((SELECT sum(source_size) FROM media), 0),
		coalesce((SELECT sum(json_extract(r.value, '$.bytes')) FROM media, json_each(media.renditions) AS r), 0)`).
		Scan(&sources, &presentations)
	if err != nil {
		return 0, 0, fmt.Errorf("sum stored bytes: %w", err)
	}
	return sources, presentations, nil
}

// Ping reports whether the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}
