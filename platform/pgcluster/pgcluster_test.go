package pgcluster_test

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/pgcluster"
)

func TestReachableAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Reachable only restricts anything when the server runs as another user (we are root)")
	}
	t.Parallel()
	// os.MkdirTemp makes a 0700 folder owned by root, like a clone in /root.
	closed, err := os.MkdirTemp("", "pgcluster-closed-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(closed) })
	open, err := os.MkdirTemp("", "pgcluster-open-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(open) })
	require.NoError(t, os.Chmod(open, 0o755))
	groupOnly, err := os.MkdirTemp("", "pgcluster-group-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(groupOnly) })
	require.NoError(t, os.Chmod(groupOnly, 0o750)) // root's group: not the postgres user's

	tests := []struct {
		name string
		dir  string
		want bool
	}{
		{name: "under a 0700 root-owned folder", dir: filepath.Join(closed, "data"), want: false},
		{name: "deeper under a 0700 root-owned folder", dir: filepath.Join(closed, "a", "b", "data"), want: false},
		{name: "under a 0755 folder", dir: filepath.Join(open, "data"), want: true},
		{name: "under a 0750 root-group folder", dir: filepath.Join(groupOnly, "data"), want: false},
		{name: "the 0700 folder itself (it would be handed over)", dir: closed, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, pgcluster.Reachable(tc.dir))
		})
	}
}

func TestReachableAsOtherUser(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("as root the server runs as postgres; see TestReachableAsRoot")
	}
	t.Parallel()
	assert.True(t, pgcluster.Reachable(t.TempDir()), "the server runs as us: whatever we reach, it reaches")
}

// TestStartStopRestart runs a durable cluster twice on the same folder: the second start
// skips initdb and finds the data of the first.
func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Not t.TempDir(): its parent is a 0700 root-owned folder the postgres user cannot reach.
	base, err := os.MkdirTemp("", "pgcluster-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	dataDir := filepath.Join(base, "pgdata") // missing: Start creates it

	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dataDir, Durable: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	require.FileExists(t, filepath.Join(dataDir, "PG_VERSION"), "initdb ran")
	url := c.URL("postgres")
	assert.Contains(t, url, "127.0.0.1")

	require.NoError(t, c.CreateDatabase(ctx, "fleet"))
	require.NoError(t, c.CreateDatabase(ctx, "fleet"), "creating an existing database is a no-op")
	conn, err := pgx.Connect(ctx, c.URL("fleet"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE cars (plate text PRIMARY KEY); INSERT INTO cars VALUES ('B-OC 1')`)
	require.NoError(t, err)
	var fsync string
	require.NoError(t, conn.QueryRow(ctx, `SHOW fsync`).Scan(&fsync))
	assert.Equal(t, "on", fsync, "durable clusters keep fsync on")
	require.NoError(t, conn.Close(ctx))

	require.NoError(t, c.Stop())
	require.NoError(t, c.Stop(), "stopping twice is harmless")
	_, err = pgx.Connect(ctx, url)
	require.Error(t, err, "a stopped cluster refuses connections")

	c2, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dataDir, Durable: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c2.Stop() })
	conn, err = pgx.Connect(ctx, c2.URL("fleet"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var plate string
	require.NoError(t, conn.QueryRow(ctx, `SELECT plate FROM cars`).Scan(&plate), "the table survives a restart")
	assert.Equal(t, "B-OC 1", plate)
	require.NoError(t, c2.Stop())
}

func TestStartRejectsUnreachableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the data folder to another user")
	}
	t.Parallel()
	closed, err := os.MkdirTemp("", "pgcluster-closed-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(closed) })
	_, err = pgcluster.Start(context.Background(), pgcluster.Options{DataDir: filepath.Join(closed, "pgdata")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach")
	assert.NoFileExists(t, filepath.Join(closed, "pgdata", "PG_VERSION"), "initdb did not run")
}

func TestBinDir(t *testing.T) {
	t.Setenv("PG_BIN", "/opt/custom/pg/bin")
	dir, err := pgcluster.BinDir()
	require.NoError(t, err)
	assert.Equal(t, "/opt/custom/pg/bin", dir, "PG_BIN wins")
}

// TestStartAfterAStalePID: the data's postmaster.pid names a live process of the server's
// user that is no server (a PID reused after a reboot): PostgreSQL refused to start ("lock
// file already exists") and `orange dev` exited until the file was deleted by hand.
func TestStartAfterAStalePID(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base, err := os.MkdirTemp("", "pgcluster-stale-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	dataDir := filepath.Join(base, "pgdata")
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dataDir})
	require.NoError(t, err)
	require.NoError(t, c.Stop())

	// A process of the server's user, in another folder.
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = "/"
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	require.NoError(t, os.WriteFile(pidFile, []byte(strconv.Itoa(sleeper.Process.Pid)+"\n"+dataDir+"\n"), 0o600))
	if cred := sleeper.SysProcAttr; cred != nil {
		require.NoError(t, os.Chown(pidFile, int(cred.Credential.Uid), int(cred.Credential.Gid)))
	}

	c, err = pgcluster.Start(ctx, pgcluster.Options{DataDir: dataDir})
	require.NoError(t, err, "a stale lock file is no running server")
	require.NoError(t, c.Stop())
}
