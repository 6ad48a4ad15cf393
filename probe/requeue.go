package probe

import (
	"slices"

	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// lost puts back the jobs of a session that broke (connection closed,
// timeout, garbage). See blame for who is charged an attempt.
func (d *dispatcher) lost(jobs []*job, res Result, inflight bool) {
	d.e.log.Debug("probe: session lost", "host", d.host, "detail", res.Message, "pending", len(jobs))
	d.requeue(jobs, res, blame(jobs, inflight), false)
}

// blame is how many of jobs are charged an attempt when a session is lost:
// the one whose RCPT was in flight, or, when the session was lost before
// any real RCPT (at MAIL FROM or a catch-all test), all of them, since no
// progress was made. Jobs that merely waited their turn are not charged:
// a server that hangs up after every 20 RCPTs must still get through a
// long queue.
func blame(jobs []*job, inflight bool) int {
	if inflight {
		return min(1, len(jobs))
	}
	return len(jobs)
}

// dropped handles a 421 in the middle of a session (RFC 5321 §3.8: the
// server is closing the channel): the host is paused and the jobs go back
// in the queue, except when the reply says we are blocked, which no retry
// will change.
func (d *dispatcher) dropped(step string, jobs []*job, r reply.Reply, c *client, inflight bool) {
	d.e.stats.replies421.Add(1)
	res := d.sessionResult(step, r, c)
	d.mu.Lock()
	pause := d.pauseLocked()
	if res.Reason == outcome.RateLimited {
		d.shedLocked(res)
	}
	d.mu.Unlock()
	d.e.log.Info("probe: host said 421, pausing it", "host", d.host, "enhanced", r.Enhanced, "reason", string(res.Reason), "pause", pause)
	if res.Reason == outcome.Blocked {
		n := blame(jobs, inflight)
		for _, j := range jobs[:n] {
			d.answer(j, answer{res: res, moveOn: true})
		}
		d.requeue(jobs[n:], res, 0, false)
		return
	}
	d.requeue(jobs, res, blame(jobs, inflight), res.Reason == outcome.RateLimited)
}

// slowDown handles a rate-limit reply that does not close the session:
// pause the host and put the jobs back.
func (d *dispatcher) slowDown(jobs []*job, res Result, inflight bool) {
	d.mu.Lock()
	pause := d.pauseLocked()
	d.shedLocked(res)
	d.mu.Unlock()
	d.e.log.Info("probe: host is rate-limiting us, pausing it", "host", d.host, "code", res.Code, "enhanced", res.Enhanced, "pause", pause)
	d.requeue(jobs, res, blame(jobs, inflight), true)
}

// requeue puts jobs back at the front of the queue, charging the first
// counted of them an attempt. A job charged MaxAttempts times gets res as
// its answer and moves on to the next MX host.
//
// A host that asked us to slow down (waitOut: a 421 or a rate-limit
// reply), and is the last MX host left, is waited out instead by every
// caller whose deadline
// leaves room for a session after the host's pause (waitsOut): no attempt
// is charged, and the pause, which doubles with every refusal in a row,
// paces the retries. A caller whose budget ends first (a real-time check)
// gets rate_limited at once. A caller without a deadline, or with another
// MX host to try, is charged attempts as for any failure.
func (d *dispatcher) requeue(jobs []*job, res Result, counted int, waitOut bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	back := make([]*job, 0, len(jobs))
	for i, j := range jobs {
		if j.ctx.Err() != nil {
			continue
		}
		r := res
		j.last.Store(&r)
		if _, ok := j.deadline(); ok && waitOut && j.lastHost {
			if j.waitsOut(d.pauseUntil) {
				d.e.stats.rateLimitWaits.Add(1)
				back = append(back, j)
			} else {
				d.answer(j, answer{res: res, moveOn: true})
			}
			continue
		}
		if i < counted {
			j.attempts++
		}
		if j.attempts >= d.e.cfg.MaxAttempts {
			d.answer(j, answer{res: res, moveOn: true})
			continue
		}
		back = append(back, j)
	}
	d.e.stats.requeued.Add(uint64(len(back)))
	d.queue = append(back, d.queue...)
	if len(d.queue) > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// shedLocked answers the queued jobs that cannot wait for the end of the
// host's pause, at once, with res, and sends them on to the next MX host:
// a real-time caller learns now what it would learn at its deadline.
func (d *dispatcher) shedLocked(res Result) {
	d.queue = slices.DeleteFunc(d.queue, func(j *job) bool {
		if j.ctx.Err() != nil {
			return true
		}
		if dl, ok := j.deadline(); ok && dl.Sub(d.pauseUntil) < rateLimitMargin {
			d.answer(j, answer{res: res, moveOn: true})
			return true
		}
		return false
	})
}
