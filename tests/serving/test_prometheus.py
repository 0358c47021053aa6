"""The metrics registry: counters, histograms, gauges in Prometheus' text
format."""

import threading

import pytest

from tfgnn_gfm.serving import prometheus as metrics


def test_text_exposition_format():
  registry = metrics.Registry()
  requests = registry.counter("requests", "Requests.", ("model", "code"))
  latency = registry.histogram("latency_us", "Latency.", ("model",),
                               (10, 100))
  registry.gauge("loaded", "Loaded.", ("model",),
                 lambda: [(("b",), 2), (("a",), 1)])
  requests.inc(("m", "OK"))
  requests.inc(("m", "OK"))
  requests.inc(('we"ird\\\n', "NOT_FOUND"), 3)
  for value in (5, 50, 500, 100):
    latency.observe(("m",), value)
  assert registry.render() == (
      "# HELP requests Requests.\n"
      "# TYPE requests counter\n"
      'requests{model="m",code="OK"} 2\n'
      'requests{model="we\\"ird\\\\\\n",code="NOT_FOUND"} 3\n'
      "# HELP latency_us Latency.\n"
      "# TYPE latency_us histogram\n"
      'latency_us_bucket{model="m",le="10"} 1\n'
      'latency_us_bucket{model="m",le="100"} 3\n'
      'latency_us_bucket{model="m",le="+Inf"} 4\n'
      'latency_us_sum{model="m"} 655\n'
      'latency_us_count{model="m"} 4\n'
      "# HELP loaded Loaded.\n"
      "# TYPE loaded gauge\n"
      'loaded{model="a"} 1\n'
      'loaded{model="b"} 2\n')
  assert requests.value(("m", "OK")) == 2
  assert requests.value(("x", "OK")) == 0
  assert latency.count(("m",)) == 4


def test_labels_must_match_and_names_are_unique():
  registry = metrics.Registry()
  counter = registry.counter("c", "C.", ("a",))
  with pytest.raises(ValueError, match="takes labels"):
    counter.inc(("x", "y"))
  with pytest.raises(ValueError, match="registered twice"):
    registry.counter("c", "C again.")


def test_concurrent_increments_are_all_counted():
  counter = metrics.Registry().counter("c", "C.")
  threads = [threading.Thread(target=lambda: [counter.inc() for _ in
                                              range(1000)])
             for _ in range(4)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert counter.value() == 4000


def test_exponential_buckets_are_tf_servings():
  buckets = metrics.exponential_buckets(10, 1.8, 33)
  assert len(buckets) == 33 and buckets[0] == 10
  assert buckets[1] == pytest.approx(18) and buckets[-1] == pytest.approx(
      10 * 1.8**32)
