package bench

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The baseline is the physical reference: a minimal program that accepts N
// raw TCP sockets and, for every message, writes one pre-encoded WebSocket
// frame of the same size and shape as Chatr's to each (one write(2) per
// delivery), or, in the coalescing variant, gathers the frames due in each
// tick into one write per socket. It stores nothing and parses nothing: the
// floor of what delivering these bytes costs on this machine.

// baselineFrame is a delivered group message like Chatr's, with text
// (which carries the bench fields) spliced in.
func baselineFrame(text []byte) []byte {
	p := make([]byte, 0, 400)
	p = append(p, `{"type":"message","from":"group","fromUserId":"guest:0123456789abcdef0123","group":"fanout","dataType":"json","data":{"message":"`...)
	p = append(p, text...)
	p = append(p, `","fromUserId":"guest:0123456789abcdef0123","fromUserName":"sub0","id":123456,"time":"2026-11-22T00:00:00.000Z"}}`...)
	return serverFrame(p)
}

// BaselineResult is what the baseline process reports.
type BaselineResult struct {
	Deliveries int64
	Writes     int64
	CPU        time.Duration
	Wall       time.Duration
}

// BaselineServe is the baseline process (chatr-bench baseline-serve ...).
func BaselineServe(args []string) error {
	fs := flag.NewFlagSet("baseline-serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	n := fs.Int("n", 1000, "sockets")
	rate := fs.Float64("rate", 100, "messages per second")
	dur := fs.Duration("dur", 5*time.Second, "sending time")
	tick := fs.Duration("coalesce", 0, "gather the frames due in each tick into one write per socket (0: one write per frame)")
	size := fs.Int("size", 100, "chat message bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	fds := make([]int, 0, *n)
	for len(fds) < *n {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		f, err := c.(*net.TCPConn).File() // a blocking duplicate of the socket
		if err != nil {
			return err
		}
		c.Close()
		fds = append(fds, int(f.Fd()))
		defer f.Close()
	}
	time.Sleep(500 * time.Millisecond)
	var res BaselineResult
	cpu0 := SelfCPU()
	start := time.Now()
	interval := time.Duration(float64(time.Second) / *rate)
	total := int(*dur / interval)
	text := make([]byte, 0, *size+32)
	if *tick <= 0 {
		for i := range total {
			due := start.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			frame := baselineFrame(benchText(text, due.UnixNano(), 0, i+1, 0, *size))
			res.Deliveries += int64(len(fds))
			res.Writes += writeAllFds(fds, frame)
		}
	} else {
		// Every tick, the frames that fell due during it go out in one write
		// per socket.
		var batch []byte
		for i, t := 0, start.Add(*tick); i < total; t = t.Add(*tick) {
			if d := time.Until(t); d > 0 {
				time.Sleep(d)
			}
			batch = batch[:0]
			for ; i < total; i++ {
				due := start.Add(time.Duration(i) * interval)
				if !due.Before(t) {
					break
				}
				batch = append(batch, baselineFrame(benchText(text, due.UnixNano(), 0, i+1, 0, *size))...)
				res.Deliveries += int64(len(fds))
			}
			if len(batch) > 0 {
				res.Writes += writeAllFds(fds, batch)
			}
		}
	}
	res.CPU = SelfCPU() - cpu0
	res.Wall = time.Since(start)
	b, _ := json.Marshal(res)
	fmt.Printf("result %s\n", b)
	// Wait for the generator to hang up.
	buf := make([]byte, 1)
	syscall.Read(fds[0], buf)
	return nil
}

func writeAllFds(fds []int, b []byte) int64 {
	for _, fd := range fds {
		writeAll(fd, b)
	}
	return int64(len(fds))
}

// BaselineConfig is one baseline run.
type BaselineConfig struct {
	Self     string // this executable
	Core     string
	N        int
	Rate     float64
	Dur      time.Duration
	Coalesce time.Duration
	Size     int
	MinRound time.Duration
}

// BaselineFigures are a baseline run's figures.
type BaselineFigures struct {
	BaselineResult
	P50, P99 time.Duration
	Received uint64
	GenUtil  float64
	// Others is the share of the baseline's core that other processes
	// took while it ran (0 when it is not pinned).
	Others float64
}

// PerDelivery is the baseline's CPU per delivered frame.
func (b *BaselineFigures) PerDelivery() time.Duration {
	if b.Deliveries == 0 {
		return 0
	}
	return b.CPU / time.Duration(b.Deliveries)
}

// Baseline runs the baseline process pinned like the server and reads it
// with the same client.
func (e *Env) Baseline(cfg BaselineConfig) (*BaselineFigures, error) {
	args := []string{"baseline-serve", "--n", strconv.Itoa(cfg.N), "--rate", fmt.Sprint(cfg.Rate),
		"--dur", cfg.Dur.String(), "--coalesce", cfg.Coalesce.String(), "--size", strconv.Itoa(cfg.Size)}
	name := cfg.Self
	if cfg.Core != "" {
		args = append([]string{"-c", cfg.Core, cfg.Self}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		return nil, fmt.Errorf("baseline: no address")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening ")
	if !ok {
		return nil, fmt.Errorf("baseline: %q", sc.Text())
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := Server{Port: ta.Port}
	copy(srv.Addr[:], ta.IP.To4())
	c, err := NewClient(cfg.MinRound)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := parallel(cfg.N, 16, func(i int) error {
		nc, err := net.DialTCP("tcp4", &net.TCPAddr{IP: net.IP(sourceSlice())}, &net.TCPAddr{IP: net.IP(srv.Addr[:]), Port: srv.Port})
		if err != nil {
			return err
		}
		fd, err := detach(nc)
		if err != nil {
			return err
		}
		c.Add(&Conn{fd: fd, Index: i}, nil)
		return nil
	}); err != nil {
		return nil, err
	}
	gen0, t0 := SelfCPU(), time.Now()
	busy0, total0 := coreBusy(cfg.Core)
	if !sc.Scan() {
		return nil, fmt.Errorf("baseline: no result")
	}
	busy1, total1 := coreBusy(cfg.Core)
	line, ok := strings.CutPrefix(sc.Text(), "result ")
	if !ok {
		return nil, fmt.Errorf("baseline: %q", sc.Text())
	}
	var f BaselineFigures
	if err := json.Unmarshal([]byte(line), &f.BaselineResult); err != nil {
		return nil, err
	}
	if total1 > total0 && f.Wall > 0 {
		f.Others = max(0, float64(busy1-busy0)/float64(total1-total0)-f.CPU.Seconds()/f.Wall.Seconds())
	}
	c.Quiet(300*time.Millisecond, 10*time.Second)
	f.GenUtil = (SelfCPU() - gen0).Seconds() / time.Since(t0).Seconds()
	st := c.Step(0)
	f.P50, f.P99, f.Received = st.Hist.Quantile(0.5), st.Hist.Quantile(0.99), st.Received
	variant := "one write per frame"
	if cfg.Coalesce > 0 {
		variant = "coalesced per " + cfg.Coalesce.String()
	}
	e.logf("baseline (%s) %.0f msg/s × %d: %.2f µs/delivery, %d writes, received %d/%d, p99 %v, generator %.0f%%",
		variant, cfg.Rate, cfg.N, float64(f.PerDelivery().Nanoseconds())/1e3, f.Writes, f.Received, f.Deliveries, f.P99, 100*f.GenUtil)
	return &f, nil
}
