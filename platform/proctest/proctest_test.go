package proctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRemoveOrphans: the folder of a test binary that is gone is removed, the folder of one
// still running (this one) is kept.
func TestRemoveOrphans(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("no /proc")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	orphan, err := os.MkdirTemp("", binDirPrefix+strconv.Itoa(gone.Process.Pid)+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(orphan) })
	if err := os.WriteFile(filepath.Join(orphan, "bin"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp("", binDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(live) })

	removeOrphans()

	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan %s still there (err %v)", orphan, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live folder %s removed: %v", live, err)
	}
}
