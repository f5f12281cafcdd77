package main

import (
	"context"
	"errors"
	"io"
)

func runDemo(ctx context.Context, out io.Writer, getenv func(string) string) (bool, error) {
	return false, errors.New("not yet")
}
