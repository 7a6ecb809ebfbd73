package bench

import (
	"math/bits"
	"time"
)

// Hist is a log-linear latency histogram in microseconds: 32 sub-buckets
// per power of two (about 3% resolution), no allocation per sample.
type Hist struct {
	counts [64 * 32]uint64
	n      uint64
	max    uint64
}

func histIndex(us uint64) int {
	if us < 32 {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us >> e is in [32, 64)
	return (e+1)*32 + int(us>>e) - 32
}

func histValue(i int) uint64 {
	if i < 32 {
		return uint64(i)
	}
	e := i/32 - 1
	return (uint64(i%32) + 32 + 1) << e // upper bound of the bucket
}

// Record adds one latency.
func (h *Hist) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[histIndex(us)]++
	h.n++
	h.max = max(h.max, us)
}

// Merge adds o's samples.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of samples.
func (h *Hist) Count() uint64 { return h.n }

// Quantile returns the q-quantile (0 < q ≤ 1).
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	want := uint64(q * float64(h.n))
	if want == 0 {
		want = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= want {
			return time.Duration(min(histValue(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Max is the largest sample.
func (h *Hist) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }
