// title: Birds within 200 km of a point near Lake Victoria
// dataset: bird-migration
// about: geo.filterRows around (-1.2135, 33.88833), radius 200 km: positions per bird (id).
// fluxlab: range 2019-01-01T00:00:00Z 2020-01-01T00:00:00Z
import "experimental/geo"

from(bucket: "bird-migration")
    |> range(start: v.timeRangeStart, stop: v.timeRangeStop)
    |> filter(fn: (r) => r._measurement == "migration")
    |> geo.filterRows(region: {lat: -1.2135, lon: 33.88833, radius: 200.0}, strict: true)
    |> group(columns: ["id"])
    |> count(column: "lat")
    |> group()
    |> sort(columns: ["lat", "id"], desc: true)
