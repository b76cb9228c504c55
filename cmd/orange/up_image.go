//go:build image

package main

import (
	"context"
	"errors"
	"io"
)

// upCmd is not in the orange image: `orange up` runs on a developer's machine, from
// `make build` or `go run ./cmd/orange up` (up.go).
func upCmd(context.Context, []string, io.Writer) error {
	return errors.New("orange up is a developer command and not part of this image: build ./cmd/orange without -tags image")
}
