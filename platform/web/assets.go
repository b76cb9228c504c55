package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var embedded embed.FS

// sharedStatic are the assets every portal has (app.css, app.js).
func sharedStatic() fs.FS {
	sub, _ := fs.Sub(embedded, "assets/static")
	return sub
}

func sharedTemplates() fs.FS {
	sub, _ := fs.Sub(embedded, "assets/templates")
	return sub
}

// asset is one static file, served under its content-hashed name so that it may be cached
// for a year: a changed file has a new name.
type asset struct {
	hashed string // "app.3f2a9c1d0b7e.css"
	body   []byte
	ctype  string
}

type assets struct {
	byName   map[string]*asset // "app.css"
	byHashed map[string]*asset
}

// loadAssets reads the shared assets and then the portal's (a portal's file of the same
// name replaces the shared one).
func loadAssets(portal fs.FS) (*assets, error) {
	a := &assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	for _, fsys := range []fs.FS{sharedStatic(), portal} {
		if fsys == nil {
			continue
		}
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			body, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			ext := path.Ext(p)
			ctype := mime.TypeByExtension(ext)
			if ctype == "" {
				ctype = http.DetectContentType(body)
			}
			x := &asset{hashed: strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:6]) + ext, body: body, ctype: ctype}
			if old, ok := a.byName[p]; ok {
				delete(a.byHashed, old.hashed)
			}
			a.byName[p], a.byHashed[x.hashed] = x, x
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("web: assets: %w", err)
		}
	}
	return a, nil
}

// Asset returns the URL of a static file by its plain name ("app.css"), or "" (and a broken
// reference a test will see) for an unknown one.
func (s *Site) Asset(name string) string {
	x, ok := s.assets.byName[name]
	if !ok {
		return ""
	}
	return s.Path("static/" + x.hashed)
}

// serveAsset serves a hashed asset, cached for a year. An unknown name is a plain 404:
// browsers ask for assets, not people.
func (s *Site) serveAsset(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, s.Path("static/"))
	x, ok := s.assets.byHashed[name]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Content-Type", x.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(x.body)
	return err
}
