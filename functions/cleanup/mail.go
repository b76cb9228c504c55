package cleanup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// pruneFolder deletes the message files of dir (the notifier's folders: <id>.eml for mail,
// <id>.txt for SMS — suffix — and a write's leftover .writing-* after a crash) last
// modified before cutoff, and returns how many. It looks at the folder's own entries only —
// no subfolders, no links followed, no other files — and a folder that does not exist (no
// message yet) is nothing to do.
func pruneFolder(dir, suffix string, cutoff time.Time) (int64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int64
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, suffix) || strings.HasPrefix(name, ".writing-")) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		switch err := os.Remove(filepath.Join(dir, name)); {
		case err == nil:
			n++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}
