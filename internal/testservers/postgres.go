package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a private PostgreSQL server: a cluster made by initdb in a
// temporary directory, run by pg_ctl on a free loopback port with trust
// authentication for the user postgres. As root, its programs run as the
// user postgres (PostgreSQL refuses to run as root), through runuser.
type Postgres struct {
	port int
	bin  string // the directory of initdb, pg_ctl and postgres
	dir  string // the socket directory, holding data/ and the log
	// asPostgres runs the programs as the user postgres (when root).
	asPostgres bool
	pid        int // the postmaster's, while it runs
}

// StartPostgres initialises a cluster in a temporary directory, starts it
// on a free loopback port and waits until it accepts connections. The
// test's cleanup stops the server (by its process id) and removes the
// directory. Without PostgreSQL's server programs, it skips the test.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		t.Skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: install them (Debian: apt-get install postgresql) to run the tests that stop and restart PostgreSQL")
	}
	p := &Postgres{port: freePort(t), bin: bin}
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatalf("testservers: %v", err)
	}
	p.dir = dir
	t.Cleanup(func() {
		p.kill(t)
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		p.asPostgres = true
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("runuser is not installed: as root, PostgreSQL is run as the user postgres through runuser (Debian: apt-get install util-linux)")
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("there is no user postgres to run PostgreSQL as (Debian: apt-get install postgresql creates it)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("testservers: %v", err)
		}
	}
	// No sync: initdb's files are synced by the first checkpoint; what
	// the tests need durable is what the server acknowledges later.
	p.run(t, "initdb", "-D", p.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	p.Start(t)
	return p
}

// postgresBin returns the directory of the newest installed PostgreSQL's
// programs (Debian keeps them in /usr/lib/postgresql/VERSION/bin, off the
// PATH), or that of initdb on the PATH, or "".
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isFile(filepath.Join(filepath.Dir(p), "pg_ctl")) {
		return filepath.Dir(p)
	}
	return ""
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// URL is the connection URL of the server's database postgres, as the
// superuser postgres.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }
func (p *Postgres) log() string  { return filepath.Join(p.dir, "postgres.log") }

// Start starts the server (again, after Stop: on the same port with the
// same data) and waits until it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if p.pid != 0 {
		t.Fatal("testservers: PostgreSQL is already running")
	}
	// The socket goes to the test's directory, not /var/run/postgresql,
	// which may be missing or another server's.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", p.port, p.dir)
	p.run(t, "pg_ctl", "-D", p.data(), "-l", p.log(), "-o", opts, "-w", "-t", strconv.Itoa(int(startTimeout.Seconds())), "start")
	b, err := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
	first, _, _ := strings.Cut(string(b), "\n")
	pid, perr := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || perr != nil || pid <= 0 {
		t.Fatalf("testservers: PostgreSQL started but its postmaster.pid cannot be read (%v, %q)", err, first)
	}
	p.pid = pid
}

// Stop shuts the server down in fast mode (it rolls back open
// transactions, closes the connections and writes a checkpoint: what it
// acknowledged stays) and waits until it has.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if p.pid == 0 {
		t.Fatal("testservers: PostgreSQL is not running")
	}
	p.run(t, "pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", strconv.Itoa(int(startTimeout.Seconds())), "stop")
	p.pid = 0
}

// Pause freezes the server and every process of it (SIGSTOP to the
// postmaster, then to each of its children: each backend leads a process
// group of its own): connections are still accepted by the kernel, but
// nothing is answered, on new connections or open ones, as with a hung
// server or a network that drops packets. Resume undoes it.
func (p *Postgres) Pause(t testing.TB) {
	t.Helper()
	p.signalAll(t, syscall.SIGSTOP)
}

// Resume lets a paused server run again (SIGCONT to its processes).
func (p *Postgres) Resume(t testing.TB) {
	t.Helper()
	p.signalAll(t, syscall.SIGCONT)
}

// signalAll sends sig to the postmaster first (stopped, it forks no new
// backend) and then to its children.
func (p *Postgres) signalAll(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if p.pid == 0 {
		t.Fatal("testservers: PostgreSQL is not running")
	}
	if err := syscall.Kill(p.pid, sig); err != nil {
		t.Fatalf("testservers: %s to PostgreSQL: %v", sig, err)
	}
	for _, pid := range children(p.pid) {
		syscall.Kill(pid, sig) // one that has just exited is no matter
	}
}

// children returns the processes whose parent is pid, from /proc.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, name := range stats {
		b, err := os.ReadFile(name)
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid …": comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		if child, err := strconv.Atoi(filepath.Base(filepath.Dir(name))); err == nil {
			out = append(out, child)
		}
	}
	return out
}

// kill ends the server, if it runs: SIGQUIT is PostgreSQL's immediate
// shutdown, which also ends its child processes; SIGKILL if that fails.
func (p *Postgres) kill(t testing.TB) {
	if p.pid == 0 {
		// A start that failed after the server came up (pg_ctl -w timed
		// out, say) left no pid here: the server's own file may have it,
		// and the data directory must not be removed under a live server.
		b, _ := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
		first, _, _ := strings.Cut(string(b), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 0 {
			p.pid = pid
		}
	}
	if p.pid == 0 || !alive(p.pid) {
		return
	}
	// A paused server acts on SIGQUIT only once it runs again.
	syscall.Kill(p.pid, syscall.SIGCONT)
	for _, pid := range children(p.pid) {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	syscall.Kill(p.pid, syscall.SIGQUIT)
	if !waitGone(p.pid) {
		syscall.Kill(p.pid, syscall.SIGKILL)
		t.Logf("testservers: PostgreSQL (pid %d) ignored SIGQUIT; killed", p.pid)
	}
	p.pid = 0
}

// run runs one of PostgreSQL's programs (as the user postgres when
// root) and fails t, with its output and the server log, if it fails.
func (p *Postgres) run(t testing.TB, program string, args ...string) {
	t.Helper()
	name := filepath.Join(p.bin, program)
	if p.asPostgres {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	// Out of the test's directory, which the user postgres may not read.
	cmd.Dir = p.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testservers: %s %s failed after %s: %v\n%s\nserver log:\n%s", program, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err, out, tail(p.log(), 2000))
	}
}
