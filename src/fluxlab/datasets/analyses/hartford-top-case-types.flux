// title: Top 10 police case types over three years
// dataset: hartford-incidents
// about: Incidents per UCR description over the time range (default: 2016-2018), top 10.
// fluxlab: range 2016-01-01T00:00:00Z 2019-01-01T00:00:00Z
from(bucket: "hartford-incidents")
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(fn: (r) => r._measurement == "incidents" and r._field == "case_number")
    |> group(columns: ["ucr_1_description"])
    |> count()
    |> group()
    |> top(n: 10, columns: ["_value"])
