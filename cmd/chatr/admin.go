package main

import (
	"context"
	"io"
)

func runAdmin(ctx context.Context, args []string, out io.Writer) error { return nil }
