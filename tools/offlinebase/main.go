// Command offlinebase writes the base image that `make resolve` hands to ko
// when no registry can be reached: a static, distroless-like image (CA
// certificates, /etc/passwd and /etc/group with the nonroot user 65532, an
// nsswitch.conf and a sticky /tmp) stored in a local OCI image layout.
//
// ko has no "ocidir://" base reference. What it does have is an on-disk base
// image cache: with KOCACHE set, ko looks up a base referenced *by digest* in
// the OCI layout $KOCACHE/img before it would contact the registry. So this
// tool appends the image to that layout and prints a digest reference under
// a registry name that can never resolve (offline.invalid); ko then finds
// the manifest, config and layer blobs locally and never dials out:
//
//	KOCACHE=.cache/ko KO_DEFAULTBASEIMAGE=$(go run ./tools/offlinebase -layout .cache/ko/img) ko resolve ...
//
// The image is reproducible: fixed timestamps and ordering, so the digest
// changes only when the host's CA bundle changes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "offlinebase:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("offlinebase", flag.ContinueOnError)
	layoutDir := fs.String("layout", ".cache/ko/img", "OCI image layout to append the image to (ko reads $KOCACHE/img)")
	caFile := fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to ship in the image")
	repo := fs.String("repo", "offline.invalid/orange/static", "repository name printed in the digest reference; never contacted")
	arch := fs.String("arch", runtime.GOARCH, "architecture recorded in the image config (ko builds for it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("unexpected arguments; see -help")
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		return fmt.Errorf("reading CA bundle: %w", err)
	}
	img, err := Image(ca, *arch)
	if err != nil {
		return err
	}
	digest, err := WriteLayout(*layoutDir, img)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s@%s\n", *repo, digest)
	return err
}
