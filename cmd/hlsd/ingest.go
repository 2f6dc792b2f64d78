package main

import (
	"context"

	"github.com/hlsd/hlsd"
)

func runIngest(ctx context.Context, m *Main, args []string) error {
	return hlsd.Errorf(hlsd.EUNAVAILABLE, "ingest is not implemented yet")
}
