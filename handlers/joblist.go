package handlers

import (
	"context"
	"net/http"
	"sort"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/preflight-email/preflight/jobs"
)

// sampleSize reads ?sample=N, a list preview of N distinct addresses; it
// answers 400 itself when N is not 1 to jobs.MaxSample.
func sampleSize(c *gin.Context) (int, bool) {
	s := c.Query("sample")
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > jobs.MaxSample {
		abort(c, http.StatusBadRequest, "invalid_sample", "sample must be 1-"+strconv.Itoa(jobs.MaxSample)+" distinct addresses")
		return 0, false
	}
	return n, true
}

// jobLister is the listing side of Jobs (*jobs.Manager).
type jobLister interface {
	List(ctx context.Context) ([]jobs.Status, error)
}

// jobPage is GET /v1/jobs.
type jobPage struct {
	Jobs []jobs.Status `json:"jobs"`
	// Next is the offset of the next page, null on the last one.
	Next *int `json:"next"`
}

// jobList lists the caller's jobs, newest first: ?limit= (1-100, default
// 20) from ?offset=.
func (a *API) jobList(c *gin.Context) {
	l, ok := a.jobs.(jobLister)
	if !ok {
		abort(c, http.StatusNotImplemented, "not_implemented", "this server cannot list jobs")
		return
	}
	limit, offset := 20, 0
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			abort(c, http.StatusBadRequest, "invalid_limit", "limit must be 1-100")
			return
		}
		limit = n
	}
	if s := c.Query("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			abort(c, http.StatusBadRequest, "invalid_offset", "offset must be 0 or more")
			return
		}
		offset = n
	}
	all, err := l.List(c.Request.Context())
	if err != nil {
		a.log.Error("listing jobs", "err", err)
		abort(c, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	mine := make([]jobs.Status, 0, len(all))
	who := owner(c)
	for _, s := range all {
		if !a.auth.Required || s.Owner == who {
			mine = append(mine, s)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].CreatedAt.After(mine[j].CreatedAt) })
	page := jobPage{Jobs: []jobs.Status{}}
	if offset < len(mine) {
		end := min(offset+limit, len(mine))
		page.Jobs = mine[offset:end]
		if end < len(mine) {
			page.Next = &end
		}
	}
	c.JSON(http.StatusOK, page)
}
