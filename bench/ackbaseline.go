package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The request baseline is the floor of answering requests: a minimal
// program that accepts raw TCP sockets (no WebSocket upgrade, no token, no
// store) with one goroutine each, as Chatr has, and answers every client
// frame with an ack frame, one write per ack. The storm scenarios compare
// the time and CPU of N connections each asking at once with it.

// BaselineAckServe is the request baseline process (chatr-bench
// baseline-ack-serve).
func BaselineAckServe(args []string) error {
	addr := "127.0.0.1:0"
	if len(args) > 0 {
		addr = args[0]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go answerAcks(c)
	}
}

// answerAcks reads client frames from c and writes an ack for each.
func answerAcks(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 1024)
	var hdr [14]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return
		}
		n := int(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, hdr[2:4]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(r, hdr[2:10]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint64(hdr[2:10]))
		}
		var mask [4]byte
		if hdr[1]&0x80 != 0 {
			if _, err := io.ReadFull(r, mask[:]); err != nil {
				return
			}
		}
		if n > 1<<20 {
			return
		}
		payload = append(payload[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
		id, _ := uintField(payload, keyAckID)
		ack := append(strconv.AppendUint([]byte(`{"type":"ack","ackId":`), id, 10), `,"success":true}`...)
		if _, err := c.Write(serverFrame(ack)); err != nil {
			return
		}
	}
}

// AckBaselineConfig is one run of the request baseline.
type AckBaselineConfig struct {
	Self     string // this executable
	Core     string
	N        int // connections
	PerConn  int // requests each connection sends at once
	Timeout  time.Duration
	MinRound time.Duration
}

// AckFigures are the request baseline's figures.
type AckFigures struct {
	Connect, Answer       time.Duration // all connected; all answered
	ConnectCPU, AnswerCPU time.Duration // the baseline process's CPU in each phase
	Acks                  uint64
	PeakRSS               int64
}

// AckBaseline runs the request baseline pinned like the server, connects
// cfg.N sockets with the storm scenarios' client, then sends cfg.PerConn
// event frames on each at once and waits for every ack.
func (e *Env) AckBaseline(cfg AckBaselineConfig) (*AckFigures, error) {
	args := []string{"baseline-ack-serve"}
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
		return nil, fmt.Errorf("request baseline: no address")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening ")
	if !ok {
		return nil, fmt.Errorf("request baseline: %q", sc.Text())
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
	pid := cmd.Process.Pid
	peak := watchRSS(pid)
	var f AckFigures
	cpu0, _ := CPU(pid)
	t0 := time.Now()
	conns := make([]*Conn, cfg.N)
	if err := parallel(cfg.N, 64, func(i int) error {
		nc, err := net.DialTCP("tcp4", &net.TCPAddr{IP: net.IP(sourceSlice())}, &net.TCPAddr{IP: net.IP(srv.Addr[:]), Port: srv.Port})
		if err != nil {
			return err
		}
		fd, err := detach(nc)
		if err != nil {
			return err
		}
		conns[i] = &Conn{fd: fd, Index: i}
		c.Add(conns[i], nil)
		return nil
	}); err != nil {
		return nil, err
	}
	f.Connect = time.Since(t0)
	cpu1, _ := CPU(pid)
	f.ConnectCPU = cpu1 - cpu0
	acks0 := c.Snapshot().Acks
	want := uint64(cfg.N * cfg.PerConn)
	t1 := time.Now()
	for range cfg.PerConn {
		for _, k := range conns {
			if err := k.Event("joinChat", "storm"); err != nil {
				return nil, err
			}
		}
	}
	for c.Snapshot().Acks-acks0 < want && time.Since(t1) < cfg.Timeout {
		time.Sleep(time.Millisecond)
	}
	f.Answer = time.Since(t1)
	cpu2, _ := CPU(pid)
	f.AnswerCPU = cpu2 - cpu1
	f.Acks = c.Snapshot().Acks - acks0
	f.PeakRSS = peak()
	if f.Acks < want {
		return &f, fmt.Errorf("request baseline: %d of %d acks in %v", f.Acks, want, cfg.Timeout)
	}
	e.logf("request baseline, %d connections × %d requests: connected in %v (%v CPU), answered in %v (%v CPU)",
		cfg.N, cfg.PerConn, rd(f.Connect), rd(f.ConnectCPU), rd(f.Answer), rd(f.AnswerCPU))
	return &f, nil
}

// Event sends an event frame with a fresh ackId; the poller counts its ack.
func (k *Conn) Event(name string, data any) error {
	return k.Write(eventFrame(name, data))
}

// watchRSS samples pid's RSS every 50 ms until the returned function is
// called, which returns the peak.
func watchRSS(pid int) func() int64 {
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := RSS(pid); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-done }
}
