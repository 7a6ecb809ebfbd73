package bench

import (
	"fmt"
	"strconv"
)

// Moderate runs the fanout at fixed moderate rates (each step once, not
// stopping at the first over 50 ms), then the one-write-per-frame raw-TCP
// baseline at each rate with the same client: at these rates a delivery is
// still about one write per frame per socket, so the ratio says what Chatr
// spends beside the write itself.
func (e *Env) Moderate(cfg FanoutConfig, self, core string) (*Result, error) {
	r, err := e.fanoutRig(cfg)
	if err != nil {
		return nil, err
	}
	res := r.load.run(r.steps(cfg.Rates, cfg.StepDur, "moderate"), false)
	r.close()
	out := &Result{Scenario: "moderate"}
	out.add("subscribers", strconv.Itoa(cfg.Subscribers), fmt.Sprintf("%d senders, %d-byte messages, %v steps", cfg.Senders, cfg.Size, cfg.StepDur))
	for _, s := range res {
		p := fmt.Sprintf("%.0f msg/s ", s.Rate)
		per := float64(s.CPUPerDelivery.Nanoseconds()) / 1e3
		out.add(p+"deliveries/s", fmt.Sprintf("%.0f", float64(s.Received)/s.Dur.Seconds()), fmt.Sprintf("lost %d, out of order %d, failed %d", max(s.Lost(), 0), s.Disorder, s.Failed))
		out.add(p+"latency p50/p99/p99.9", fmt.Sprintf("%v / %v / %v", rd(s.P50), rd(s.P99), rd(s.P999)), "target p99 ≤ 50 ms")
		out.add(p+"server CPU per delivery", fmt.Sprintf("%.2f µs", per), fmt.Sprintf("core %.0f%% busy; other processes on it %.0f%%, generator %.0f%%", 100*s.Use.SrvUtil, 100*s.Use.Others, 100*s.Use.GenUtil))
		if !s.OK() {
			out.Invalid = append(out.Invalid, fmt.Sprintf("%.0f msg/s not sustained (p99 %v, lost %d)", s.Rate, rd(s.P99), s.Lost()))
		}
		if s.Use.Others > 0.1 {
			out.Invalid = append(out.Invalid, fmt.Sprintf("%.0f msg/s noisy: other processes took %.0f%% of the server's core", s.Rate, 100*s.Use.Others))
		}
		f, err := e.Baseline(BaselineConfig{Self: self, Core: core, N: cfg.Subscribers, Rate: s.Rate, Dur: cfg.StepDur, Size: cfg.Size, MinRound: cfg.MinRound})
		if err != nil {
			out.Invalid = append(out.Invalid, "baseline: "+err.Error())
			continue
		}
		bper := float64(f.PerDelivery().Nanoseconds()) / 1e3
		out.add(p+"baseline, one write per frame", fmt.Sprintf("%.2f µs", bper), fmt.Sprintf("p99 %v, %.1f frames/write, took %.0f%% of its schedule, others on its core %.0f%%",
			rd(f.P99), float64(f.Deliveries)/float64(max(f.Writes, 1)), 100*f.Wall.Seconds()/cfg.StepDur.Seconds(), 100*f.Others))
		if bper > 0 {
			out.add(p+"  Chatr ÷ baseline", fmt.Sprintf("%.2f×", per/bper), "target ≤ 1× (the issue's aim: 0.5×)")
		}
		if f.Others > 0.1 {
			// A baseline whose core others took pays for their cache and
			// scheduling: its cost per write is then no floor to compare with.
			out.Invalid = append(out.Invalid, fmt.Sprintf("%.0f msg/s: other processes took %.0f%% of the baseline's core: the ratio is not meaningful", s.Rate, 100*f.Others))
		} else if f.Wall.Seconds() > 1.1*cfg.StepDur.Seconds() {
			// With its core to itself, a baseline that falls behind shows
			// that one write per frame costs more than the core has at this
			// rate: its CPU per delivery is still the floor.
			out.add(p+"  baseline behind", fmt.Sprintf("%.0f%%", 100*f.Wall.Seconds()/cfg.StepDur.Seconds()), "one write per frame does not keep this rate on one core; its CPU per delivery stands")
		}
		if f.GenUtil > e.GenBusy {
			out.Invalid = append(out.Invalid, fmt.Sprintf("generator saturated reading the baseline (%.0f%%)", 100*f.GenUtil))
		}
	}
	out.Load = Load()
	return out, nil
}
