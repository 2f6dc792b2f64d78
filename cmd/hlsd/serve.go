package main

import (
	"context"

	"github.com/hlsd/hlsd"
)

func runServe(ctx context.Context, m *Main, args []string) error {
	return hlsd.Errorf(hlsd.EUNAVAILABLE, "serve is not implemented yet")
}
