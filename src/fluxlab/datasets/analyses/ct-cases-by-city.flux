// title: School COVID-19 cases by city
// dataset: ct-school-covid
// about: Sum of the reported weekly totals per city ("<6" counted as 5), largest first.
// fluxlab: range 2020-01-01T00:00:00Z now()
from(bucket: "ct-school-covid")
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(fn: (r) => r._measurement == "cases" and r._field == "total")
    |> group(columns: ["city"])
    |> sum()
    |> group()
    |> sort(columns: ["_value", "city"], desc: true)
