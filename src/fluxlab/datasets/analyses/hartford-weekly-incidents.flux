// title: Weekly police incident counts
// dataset: hartford-incidents
// about: Incidents per week; weeks are truncateTimeColumn(unit: 1w) buckets (Flux weeks start on Thursday, as 1970-01-01 did).
// fluxlab: range 2016-01-01T00:00:00Z 2019-01-01T00:00:00Z
from(bucket: "hartford-incidents")
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(fn: (r) => r._measurement == "incidents" and r._field == "case_number")
    |> truncateTimeColumn(unit: 1w)
    |> group(columns: ["_time"])
    |> count()
    |> group()
    |> sort(columns: ["_time"])
