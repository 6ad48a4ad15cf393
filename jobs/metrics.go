package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"
)

// QueueStats counts the River jobs (plans, chunks, retries, callbacks) of
// every bulk job in the store, by state.
type QueueStats struct {
	Available int `json:"available"`
	Running   int `json:"running"`
	Scheduled int `json:"scheduled"`
	Retryable int `json:"retryable"`
	Discarded int `json:"discarded"`
}

// Queue reports the queue's depth, shared by every process on the store.
func (m *Manager) Queue(ctx context.Context) (QueueStats, error) {
	c, err := m.q.counts(ctx)
	if err != nil {
		return QueueStats{}, err
	}
	return QueueStats{
		Available: c[rivertype.JobStateAvailable] + c[rivertype.JobStatePending],
		Running:   c[rivertype.JobStateRunning],
		Scheduled: c[rivertype.JobStateScheduled],
		Retryable: c[rivertype.JobStateRetryable],
		Discarded: c[rivertype.JobStateDiscarded],
	}, nil
}

// Collectors are the jobs' metrics: River's jobs by state and the time
// chunks take here.
func (m *Manager) Collectors() []prometheus.Collector {
	return []prometheus.Collector{queueCollector{m}, m.chunkSeconds}
}

var queueDesc = prometheus.NewDesc("preflight_queue_jobs", "River jobs of the bulk jobs (plans, chunks, retries, callbacks) by state, over every process on the store.", []string{"state"}, nil)

type queueCollector struct{ m *Manager }

func (q queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := q.m.q.counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
		return
	}
	for _, s := range []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled} {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(c[s]), string(s))
	}
}
