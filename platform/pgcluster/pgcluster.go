// Package pgcluster runs a private PostgreSQL server from the locally installed server
// binaries. It backs the test harness (a throwaway cluster per test binary) and `orange dev`
// when DATABASE_URL is unset (a persistent cluster under the project's data folder).
//
// PostgreSQL refuses to run as root, so when this process is root the server runs as the
// `postgres` system user and the data directory is handed to that user.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options says where the cluster lives and how it behaves.
type Options struct {
	// DataDir holds the cluster; created and initialised when empty or missing.
	DataDir string
	// Durable keeps fsync on. Throwaway test clusters turn it off for speed.
	Durable bool
	// Log receives the server's output; nil discards it.
	Log *os.File
	// Port is the loopback port to listen on; 0 picks a free one. A restart on the port
	// it had (Cluster.Port) keeps its clients' connection URLs valid.
	Port int
}

// Cluster is a running PostgreSQL server on a loopback port.
type Cluster struct {
	port    int
	dataDir string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// BinDir finds the server binaries: $PG_BIN, then the newest /usr/lib/postgresql/<v>/bin
// (Debian keeps them off PATH), then initdb on PATH.
func BinDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries found: install the postgresql package (Debian: apt-get install postgresql), set PG_BIN, or set DATABASE_URL to use an existing server")
}

func versionOf(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// credential returns who the server runs as: ourselves, or `postgres` when we are root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, and PostgreSQL refuses root: no `postgres` user to run it as (it comes with the postgresql package)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// clearStalePID removes dataDir's postmaster.pid when the process it names is alive but no
// server of dataDir: after a reboot (or a kill -9 of the machine's processes) its PID may
// belong to another process, and PostgreSQL refuses to start whenever that process is the
// server user's ("lock file already exists") — `orange dev` then exits until someone deletes
// the file by hand. A postmaster works in its data directory, so its working directory tells
// (/proc/<pid>/cwd). A PID of no process is PostgreSQL's own to clear; a process this one
// cannot look at is left as it is, and a server that does run on dataDir keeps its lock —
// PostgreSQL refuses a second one, as it must.
func clearStalePID(dataDir string) {
	pid, serves := holder(dataDir)
	if pid > 0 && !serves {
		_ = os.Remove(filepath.Join(dataDir, "postmaster.pid"))
	}
}

// holder is the process postmaster.pid names (0 when there is none or it is gone) and
// whether it is a server of dataDir (its working directory).
func holder(dataDir string) (pid int, serves bool) {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return 0, false
	}
	want, err := filepath.EvalSymlinks(dataDir)
	return pid, err == nil && cwd == want
}

// Reachable reports whether the server user can reach dir: every ancestor must let it
// search. A clone under a 0700 root-owned folder cannot host the data.
func Reachable(dir string) bool {
	cred, err := credential()
	if err != nil || cred == nil {
		return err == nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(st.Uid == cred.Uid && mode&0o100 != 0) ||
			(st.Gid == cred.Gid && mode&0o010 != 0)
		if !ok {
			return false
		}
		if p == "/" {
			return true
		}
	}
}

// Start initialises DataDir if needed and starts the server on a free loopback port. The
// server dies with this process (parent-death signal), so a crashed test leaves no server.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.DataDir), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Mkdir(opts.DataDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(opts.DataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("hand data dir to postgres: %w", err)
		}
		if !Reachable(opts.DataDir) {
			return nil, fmt.Errorf("the postgres user cannot reach %s (an ancestor folder is not searchable by it)", opts.DataDir)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.DataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
			"-D", opts.DataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
		initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := initdb.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out)))
		}
	}
	clearStalePID(opts.DataDir)
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-D", opts.DataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
	}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if opts.Log != nil {
		cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{port: port, dataDir: opts.DataDir, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			if pid, serves := holder(c.dataDir); serves {
				return fmt.Errorf("the data dir %s is in use by another PostgreSQL (pid %d): another orange dev or orange up "+
					"on this data? Stop it, or give this one its own ORANGE_DATA_DIR", c.dataDir, pid)
			}
			return fmt.Errorf("postgres exited during start-up (see its log; data dir %s)", c.dataDir)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
	}
}

// URL is the connection URL of database db on this cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Port is the loopback port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Stop asks for a fast shutdown (SIGINT: abort sessions, checkpoint, exit) and waits.
func (c *Cluster) Stop() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errors.New("postgres did not stop within 30s; killed")
	}
}

// CreateDatabase creates db if it does not exist yet.
func (c *Cluster) CreateDatabase(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
