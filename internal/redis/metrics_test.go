package redis

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gauge reads c's linkapi_redis_fallback.
func gauge(t *testing.T, c *Client) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collector().Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
