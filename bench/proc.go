package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on
// every Linux this runs on).
const clockTick = 100

// CPU returns the user+system CPU time a process has used.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(s)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

// SelfCPU is the generator's own CPU time (getrusage: microsecond precision).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RSS returns a process's resident set size in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// Load is the 1-minute load average.
func Load() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// Metrics scrapes the server's /metrics for the Go runtime gauges.
func Metrics(s Server) (map[string]float64, error) {
	resp, err := httpClient.Get("http://" + s.host() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name, val := line[:i], line[i+1:]
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			m[name] = v
		}
	}
	return m, sc.Err()
}

// ServerProc is a chatr process started for one scenario.
type ServerProc struct {
	Server
	Cmd   *exec.Cmd
	Pprof string // the server's --pprof-addr
	dir   string
	db    string
}

// GC makes the server collect garbage (through pprof's heap?gc=1), so that
// heap figures count live memory only.
func (p *ServerProc) GC() error {
	resp, err := httpClient.Get("http://" + p.Pprof + "/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// ServerOptions say how to start chatr.
type ServerOptions struct {
	Bin      string // the chatr binary
	Core     string // taskset CPU list; empty: not pinned
	Procs    int    // GOMAXPROCS; 0: unset
	DB       string // empty: a fresh SQLite file in a temporary directory
	Extra    []string
	Log      io.Writer
	MaxFiles uint64 // RLIMIT_NOFILE of the server (0: inherited)
	Port     int    // 0: a free port
	Query    string // added to the clients' URLs: see Server.Query
}

// StartServer runs chatr with the benchmark's limits lifted and waits until
// it is ready.
func StartServer(o ServerOptions) (*ServerProc, error) {
	dir, err := os.MkdirTemp("", "chatr-bench-")
	if err != nil {
		return nil, err
	}
	port := o.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	pprofAddr := "127.0.0.1:" + strconv.Itoa(pport)
	db := o.DB
	if db == "" {
		db = filepath.Join(dir, "chatr.db")
	}
	args := []string{"--addr", "127.0.0.1:" + strconv.Itoa(port), "--db", db, "--log-level", "warn",
		"--messages-per-second", "1000000000", "--message-burst", "1000000000",
		"--requests-per-second", "-1", "--sign-ins-per-minute", "-1", "--connections-per-user", "1000000", "--connections-per-ip", "-1",
		"--events-per-second", "1000000000", "--event-burst", "1000000000", "--pprof-addr", pprofAddr}
	args = append(args, o.Extra...)
	name := o.Bin
	if o.Core != "" {
		args = append([]string{"-c", o.Core, o.Bin}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "CHATR_SECRET=chatr-bench-secret-0123456789abcdef")
	if o.Procs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(o.Procs))
	}
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	if o.MaxFiles > 0 {
		// Set on ourselves around Start: the child inherits it.
		var old syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old)
		lim := syscall.Rlimit{Cur: min(o.MaxFiles, old.Max), Max: old.Max}
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		err = cmd.Start()
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	p := &ServerProc{Server: Server{Addr: [4]byte{127, 0, 0, 1}, Port: port, Query: o.Query}, Cmd: cmd, Pprof: pprofAddr, dir: dir, db: db}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := httpClient.Get("http://" + p.host() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Stop()
	return nil, fmt.Errorf("chatr did not become ready")
}

// Pid is the server's process id (taskset execs chatr in place).
func (p *ServerProc) Pid() int { return p.Cmd.Process.Pid }

// Stop kills the server and removes its files.
func (p *ServerProc) Stop() {
	p.Terminate(5 * time.Second)
	os.RemoveAll(p.dir)
}

// Terminate sends SIGTERM and waits for the server to exit (killing it
// after grace), keeping its files; it returns how long the exit took.
func (p *ServerProc) Terminate(grace time.Duration) time.Duration {
	t0 := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		p.Cmd.Process.Kill()
		<-done
	}
	return time.Since(t0)
}

// DB is the server's SQLite file.
func (p *ServerProc) DB() string { return p.db }

func removeAll(dir string) { os.RemoveAll(dir) }

// server is where a server started with o listens (o.Port must be set).
func (o ServerOptions) server() Server {
	return Server{Addr: [4]byte{127, 0, 0, 1}, Port: o.Port, Query: o.Query}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// coreBusy returns the busy and total jiffies of one CPU from /proc/stat.
func coreBusy(cpu string) (busy, total int64) {
	if cpu == "" {
		return 0, 0
	}
	b, _ := os.ReadFile("/proc/stat")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu"+cpu {
			continue
		}
		for i, v := range f[1:] {
			x, _ := strconv.ParseInt(v, 10, 64)
			total += x
			if i != 3 && i != 4 { // idle, iowait
				busy += x
			}
		}
	}
	return busy, total
}

// ServerCore is the CPU the server is pinned to, for measuring what other
// processes take of it (set by the command).
var ServerCore string

// usage tracks the CPU of the server and of the generator over an interval.
type usage struct {
	pid              int
	t0               time.Time
	srv0, gen0       time.Duration
	Wall, Srv, Gen   time.Duration
	SrvUtil, GenUtil float64
	busy0, total0    int64
	// Others is the share of the server's core that other processes used.
	Others float64
}

func startUsage(pid int) *usage {
	u := &usage{pid: pid, t0: time.Now(), gen0: SelfCPU()}
	u.srv0, _ = CPU(pid)
	u.busy0, u.total0 = coreBusy(ServerCore)
	return u
}

func (u *usage) stop() *usage {
	u.Wall = time.Since(u.t0)
	s, _ := CPU(u.pid)
	u.Srv = s - u.srv0
	u.Gen = SelfCPU() - u.gen0
	u.SrvUtil = u.Srv.Seconds() / u.Wall.Seconds()
	u.GenUtil = u.Gen.Seconds() / u.Wall.Seconds()
	if b, t := coreBusy(ServerCore); t > u.total0 {
		u.Others = max(0, float64(b-u.busy0)/float64(t-u.total0)-u.SrvUtil)
	}
	return u
}

// CPUs is the number of CPUs online (not just those this process may use).
func CPUs() int {
	b, _ := os.ReadFile("/sys/devices/system/cpu/online")
	n := 0
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, ok := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		if !ok {
			n++
			continue
		}
		z, _ := strconv.Atoi(hi)
		n += z - a + 1
	}
	return n
}
