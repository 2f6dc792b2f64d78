package main

import (
	"context"

	"github.com/hlsd/hlsd"
)

func runProbe(ctx context.Context, m *Main, args []string) error {
	return hlsd.Errorf(hlsd.EUNAVAILABLE, "probe is not implemented yet")
}
