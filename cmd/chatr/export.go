package main

import (
	"context"
	"io"
)

func runExport(ctx context.Context, args []string, out io.Writer) error { return nil }
