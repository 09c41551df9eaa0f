package job

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The per-job metrics, read from each job's status at scrape time: a deleted job's series
// are gone from the next scrape.
var (
	descRunning     = prometheus.NewDesc("tandem_job_running", "1 while the job runs (Running or Degraded), else 0.", []string{"job"}, nil)
	descInEvents    = prometheus.NewDesc("tandem_job_input_events_total", "Events read from the job's inputs since the job (re)started.", []string{"job"}, nil)
	descInBytes     = prometheus.NewDesc("tandem_job_input_bytes_total", "Bytes of events read from the job's inputs.", []string{"job"}, nil)
	descOutRows     = prometheus.NewDesc("tandem_job_output_rows_total", "Rows written to the job's outputs.", []string{"job"}, nil)
	descBacklog     = prometheus.NewDesc("tandem_job_backlogged_input_events", "Events in the input partitions not read yet.", []string{"job"}, nil)
	descWmDelay     = prometheus.NewDesc("tandem_job_watermark_delay_seconds", "Wall clock minus the job's watermark.", []string{"job"}, nil)
	descLate        = prometheus.NewDesc("tandem_job_late_input_events_total", "Events later than the late-arrival tolerance (adjusted or dropped).", []string{"job"}, nil)
	descOutOfOrder  = prometheus.NewDesc("tandem_job_out_of_order_events_total", "Events out of order beyond the tolerance (adjusted or dropped).", []string{"job"}, nil)
	descEarly       = prometheus.NewDesc("tandem_job_early_input_events_total", "Events dropped for being too far ahead of their arrival.", []string{"job"}, nil)
	descDropped     = prometheus.NewDesc("tandem_job_dropped_events_total", "Late or out-of-order events dropped by the drop policy.", []string{"job"}, nil)
	descConversion  = prometheus.NewDesc("tandem_job_conversion_errors_total", "Events that could not be decoded or timestamped.", []string{"job"}, nil)
	descRuntime     = prometheus.NewDesc("tandem_job_runtime_errors_total", "Rows dropped by an error evaluating the query.", []string{"job"}, nil)
	descStateBytes  = prometheus.NewDesc("tandem_job_state_bytes", "Size of the job's state (its engine snapshot) at the last measure; the job fails above tandem_job_state_budget_bytes.", []string{"job"}, nil)
	descStateBudget = prometheus.NewDesc("tandem_job_state_budget_bytes", "The job's state budget (--job-state-budget or the job's own).", []string{"job"}, nil)
	descDuplicates  = prometheus.NewDesc("tandem_job_duplicate_input_events_total", "Dual-write input events dropped as repeats of an event id.", []string{"job"}, nil)
	jobDescriptions = []*prometheus.Desc{descRunning, descInEvents, descInBytes, descOutRows, descBacklog, descWmDelay,
		descLate, descOutOfOrder, descEarly, descDropped, descConversion, descRuntime, descStateBytes, descStateBudget, descDuplicates}
)

// Describe implements prometheus.Collector.
func (m *Manager) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range jobDescriptions {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Manager) Collect(ch chan<- prometheus.Metric) {
	for _, info := range m.List(Admin) {
		st, name := info.Status, info.Spec.Name
		running := 0.0
		if st.State == Running || st.State == Degraded {
			running = 1
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), name)
		}
		gauge(descRunning, running)
		counter(descInEvents, st.InputEvents)
		counter(descInBytes, st.InputBytes)
		counter(descOutRows, st.OutputRows)
		gauge(descBacklog, float64(st.BackloggedEvents))
		gauge(descWmDelay, st.WatermarkDelay)
		counter(descLate, st.LateEvents)
		counter(descOutOfOrder, st.OutOfOrderEvents)
		counter(descEarly, st.EarlyEvents)
		counter(descDropped, st.DroppedEvents)
		counter(descConversion, st.ConversionErrors)
		counter(descRuntime, st.RuntimeErrors)
		gauge(descStateBytes, float64(st.StateBytes))
		gauge(descStateBudget, float64(st.StateBudget))
		counter(descDuplicates, st.DuplicateEvents)
	}
}
