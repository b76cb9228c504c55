package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestImageHasCertsAndNonroot(t *testing.T) {
	t.Parallel()
	img, err := Image([]byte(pem), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || cfg.Config.User != "65532:65532" {
		t.Errorf("config = %s/%s user %q, want linux/amd64 user 65532:65532", cfg.OS, cfg.Architecture, cfg.Config.User)
	}
	files := map[string]string{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
	if files[CertPath] != pem {
		t.Errorf("%s = %q, want the CA bundle", CertPath, files[CertPath])
	}
	if !strings.Contains(files["etc/passwd"], "nonroot:x:65532:65532:") {
		t.Errorf("etc/passwd lacks nonroot: %q", files["etc/passwd"])
	}
	_, slash := files["tmp/"]
	if _, ok := files["tmp"]; !ok && !slash {
		t.Error("no /tmp")
	}
}

func TestImageIsReproducible(t *testing.T) {
	t.Parallel()
	a, err := Image([]byte(pem), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Image([]byte(pem), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("digests differ for equal input: %s vs %s", da, db)
	}
}

func TestImageRejectsEmptyBundle(t *testing.T) {
	t.Parallel()
	if _, err := Image([]byte("not a cert"), "amd64"); err == nil {
		t.Fatal("want error for a bundle without certificates")
	}
}

// TestWriteLayout: the image lands in an OCI layout, readable back by digest
// (the lookup ko's base cache does), and writing twice adds nothing.
func TestWriteLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/img"
	img, err := Image([]byte(pem), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	d1, err := WriteLayout(dir, img)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := WriteLayout(dir, img)
	if err != nil || d1 != d2 {
		t.Fatalf("second write: %v, %v vs %v", err, d1, d2)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Errorf("index has %d manifests, want 1", len(m.Manifests))
	}
	got, err := idx.Image(d1)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v", len(layers), err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatalf("layer blob not in the layout: %v", err)
	}
	rc.Close()
}

func TestRunPrintsDigestReference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := dir + "/ca.pem"
	if err := os.WriteFile(ca, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{"-layout", dir + "/img", "-ca", ca, "-repo", "offline.invalid/x"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "offline.invalid/x@sha256:") {
		t.Errorf("output %q, want a digest reference", out.String())
	}
	if err := run([]string{"-ca", dir + "/missing.pem"}, io.Discard); err == nil {
		t.Error("want error for a missing CA bundle")
	}
}
