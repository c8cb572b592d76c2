// title: Police incidents within 48.28 km (30 miles) of Hartford, by neighborhood
// dataset: hartford-incidents
// about: geo.filterRows around (41.763710, -72.685097), radius 48.28 km, exact (strict) filter.
// fluxlab: range 2000-01-01T00:00:00Z now()
import "experimental/geo"

from(bucket: "hartford-incidents")
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(fn: (r) => r._measurement == "incidents")
    |> filter(fn: (r) => r._field == "lat" or r._field == "lon" or r._field == "case_number")
    |> geo.filterRows(region: {lat: 41.763710, lon: -72.685097, radius: 48.28}, strict: true)
    |> group(columns: ["neighborhood"])
    |> count(column: "case_number")
    |> group()
    |> sort(columns: ["case_number", "neighborhood"], desc: true)
