package fleet

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// rateScale turns a rate per second into redis_rate's whole number of
// requests per period: 0.5/s is 500 per 1000 s, which GCRA spreads evenly.
const rateScale = 1000

// provider returns the rate of host's provider: the longest suffix that
// matches whole labels.
func (c *Client) provider(host string) (Rate, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	var best Rate
	for _, r := range c.cfg.Rates {
		if (host == r.Suffix || strings.HasSuffix(host, "."+r.Suffix)) && len(r.Suffix) > len(best.Suffix) {
			best = r
		}
	}
	return best, best.Suffix != ""
}

// AllowRcpt takes one RCPT to host from the fleet-wide budget of its
// provider (GCRA in Redis, go-redis/redis_rate). It returns 0 when the
// RCPT may go now, or how long to wait before asking again. A host without
// a fleet limit, or a degraded client, always gets 0: the local per-IP
// limits still hold.
func (c *Client) AllowRcpt(ctx context.Context, host string) time.Duration {
	r, ok := c.provider(host)
	if !ok || !c.usable() {
		return 0
	}
	octx, cancel := c.op(ctx)
	defer cancel()
	// A burst of one second's worth, at least one.
	limit := redis_rate.Limit{
		Rate:   int(math.Round(r.PerSecond * rateScale)),
		Period: rateScale * time.Second,
		Burst:  max(1, int(math.Ceil(r.PerSecond))),
	}
	res, err := c.limiter.Allow(octx, c.cfg.Prefix+"rcpt:"+r.Suffix, limit)
	if err != nil {
		c.failed(ctx, err)
		return 0
	}
	if res.Allowed > 0 {
		return 0
	}
	c.stats.rcptWaits.Add(1)
	return max(res.RetryAfter, time.Millisecond)
}
