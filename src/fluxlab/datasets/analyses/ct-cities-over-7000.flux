// title: Cities with more than 7000 school COVID-19 cases
// dataset: ct-school-covid
// about: The cases-by-city sum, keeping the cities above the tutorial's threshold of 7000.
// fluxlab: range 2020-01-01T00:00:00Z now()
threshold = 7000

from(bucket: "ct-school-covid")
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(fn: (r) => r._measurement == "cases" and r._field == "total")
    |> group(columns: ["city"])
    |> sum()
    |> filter(fn: (r) => r._value > threshold)
    |> group()
    |> sort(columns: ["_value", "city"], desc: true)
