#!/usr/bin/env python3
"""Write the project's own sample API responses (samples/<source>/NNN.json), shaped like
the real ones (see ../shared/fixtures/api/README.md) but made up by us, for `sluice demo`
and the pipeline golden tests.  Deterministic: rerunning writes the same bytes."""
import json, math, os, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples")

def write(source, name, obj, sidecar=None):
    d = os.path.join(root, source)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".json"), "w") as f:
        f.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
    if sidecar:
        with open(os.path.join(d, name + ".http"), "w") as f:
            f.write(sidecar)

# ---- ISS (wheretheiss.at shape): half an orbit, one position a minute ----
t0 = 1717012800  # 2024-05-29T20:00:00Z
inc = math.radians(51.64)
for i in range(40):
    t = t0 + 60 * i
    u = 2 * math.pi * (60 * i) / (92.68 * 60)          # argument of latitude
    lat = math.degrees(math.asin(math.sin(inc) * math.sin(u)))
    lon = math.degrees(math.atan2(math.cos(inc) * math.sin(u), math.cos(u))) - 0.25 * (60 * i) / 60 - 40
    lon = (lon + 180) % 360 - 180
    write("iss", "%03d" % i, {
        "name": "iss", "id": 25544, "latitude": round(lat, 9), "longitude": round(lon, 9),
        "altitude": round(418 + 4 * math.sin(u), 9), "velocity": round(27600 + 20 * math.cos(u), 6),
        "visibility": "daylight" if i < 24 else "eclipsed", "footprint": 4500.0, "timestamp": t,
        "daynum": 2460460.3333 + 60 * i / 86400, "solar_lat": 21.6, "solar_lon": -120.0 + 0.25 * i,
        "units": "kilometers"})

# ---- crypto (CoinLore /api/tickers/ shape): 6 polls 30 s apart, 3 coins, numbers as strings ----
coins = [("90", "BTC", "Bitcoin", "bitcoin", 67834.12, 21000000),
         ("80", "ETH", "Ethereum", "ethereum", 3761.55, 0),
         ("48543", "SOL", "Solana", "solana", 166.42, 0)]
for p in range(6):
    data = []
    for k, (cid, sym, name, nameid, price, msupply) in enumerate(coins):
        px = price * (1 + 0.002 * math.sin(p + k))
        data.append({"id": cid, "symbol": sym, "name": name, "nameid": nameid, "rank": k + 1,
                     "price_usd": "%.2f" % px, "percent_change_24h": "%.2f" % (1.1 - 0.3 * p),
                     "percent_change_1h": "0.%02d" % (p * 7 % 100), "percent_change_7d": "3.60",
                     "price_btc": "%.6f" % (px / 67834.12), "market_cap_usd": "%.2f" % (px * 19700000),
                     "volume24": 25000000000.5 + p * 1000, "volume24a": 24000000000.25,
                     "csupply": "19700000.00", "tsupply": "19700000", "msupply": str(msupply) if msupply else ""})
    write("tickers", "%03d" % p, {"data": data, "info": {"coins_num": 3, "time": 1717012800 + 30 * p}})

# ---- random users (randomuser.me shape): 3 polls of 2 users ----
people = [("female", "Ms", "Saanvi", "Kulkarni", "Pune", "Maharashtra", "India", "411001", "18.5204", "73.8567"),
          ("male", "Mr", "Lars", "Sørensen", "Aarhus", "Midtjylland", "Denmark", "8000", "56.1629", "10.2039"),
          ("female", "Mrs", "Aino", "Mäkelä", "Tampere", "Päijät-Häme", "Finland", "33100", "61.4978", "23.7610"),
          ("male", "Mr", "Tomás", "Oliveira", "Porto", "Norte", "Portugal", "4000-001", "41.1579", "-8.6291"),
          ("female", "Miss", "Chloé", "Martin", "Lyon", "Rhône", "France", "69001", "45.7640", "4.8357"),
          ("male", "Mr", "Kofi", "Mensah", "Kumasi", "Ashanti", "Ghana", "00233", "6.6885", "-1.6244")]
for p in range(3):
    res = []
    for k in range(2):
        g, title, first, last, city, state, country, pc, la, lo = people[2 * p + k]
        n = 2 * p + k
        res.append({"gender": g, "name": {"title": title, "first": first, "last": last},
                    "location": {"street": {"number": 100 + n * 37, "name": "Main Street"}, "city": city,
                                 "state": state, "country": country, "postcode": int(pc) if pc.isdigit() else pc,
                                 "coordinates": {"latitude": la, "longitude": lo},
                                 "timezone": {"offset": "+1:00", "description": "Brussels, Copenhagen, Madrid, Paris"}},
                    "email": "%s.%s@example.com" % (first.lower(), last.lower()),
                    "login": {"uuid": "5f0c%04x-1c2d-4e5f-8a9b-%012x" % (n, 0xabcdef000 + n),
                              "username": "%s%d" % (first.lower(), 100 + n), "password": "hunter2",
                              "salt": "s4lt", "md5": "x", "sha1": "y", "sha256": "z"},
                    "dob": {"date": "19%02d-0%d-1%dT08:30:00.000Z" % (70 + n * 3, 1 + n, n), "age": 50 - n * 3},
                    "registered": {"date": "2015-06-0%dT10:00:00.000Z" % (1 + n), "age": 9},
                    "phone": "555-01%02d" % n, "cell": "555-02%02d" % n, "id": {"name": "", "value": None},
                    "picture": {"large": "", "medium": "", "thumbnail": ""}, "nat": country[:2].upper()})
    write("users", "%03d" % p, {"results": res, "info": {"seed": "sluice-demo", "results": 2, "page": p + 1, "version": "1.4"}})

# ---- flights (OpenSky states/all with a box): 4 polls, the third one "states": null ----
planes = [("4b1805", "SWR16   ", "Switzerland", 8.5, 47.2, 10668.0, 236.1, 45.0),
          ("3c6444", "DLH9TX  ", "Germany", 7.1, 46.4, 11582.4, 228.4, 200.0),
          ("440a2b", "EJU47RK ", "Austria", 9.9, 46.9, 3352.8, 160.2, 300.0),
          ("4b1f31", None, "Switzerland", 8.2, 47.6, None, 0.0, 90.0)]
for p in range(4):
    t = 1717495800 + 30 * p
    if p == 2:
        write("states", "%03d" % p, {"time": t, "states": None})
        continue
    states = []
    for k, (icao, cs, country, lon, lat, alt, vel, hdg) in enumerate(planes):
        d = vel * 30 * p / 111000.0
        states.append([icao, cs, country, t - 1, t, round(lon + d * math.sin(math.radians(hdg)), 4),
                       round(lat + d * math.cos(math.radians(hdg)), 4), alt, alt is None, vel, hdg,
                       0.0 if alt else None, None, (alt + 120) if alt else None, "10%02d" % k, False, 0]
                      + ([4] if k % 2 else []))
    write("states", "%03d" % p, {"time": t, "states": states})

# ---- solar flares (DONKI FLR shape): two 30-day windows; the second revises a flare ----
def flare(fid, begin, peak, end, cls, loc, ar, version, link):
    return {"flrID": fid, "instruments": [{"displayName": "GOES-P: EXIS 1.0-8.0"}], "beginTime": begin,
            "peakTime": peak, "endTime": end, "classType": cls, "sourceLocation": loc, "activeRegionNum": ar,
            "note": "", "submissionTime": begin, "versionId": version, "link": "FLR/%d" % link, "linkedEvents": None}
w1 = [flare("2024-05-05T05:54:00-FLR-001", "2024-05-05T05:54Z", "2024-05-05T06:01Z", "2024-05-05T06:07Z", "X1.3", "S18W33", 13663, 1, 30001),
      flare("2024-05-08T01:41:00-FLR-001", "2024-05-08T01:41Z", "2024-05-08T02:04Z", "2024-05-08T02:20Z", "X1.0", "S20W17", 13664, 1, 30002),
      flare("2024-05-10T06:27:00-FLR-001", "2024-05-10T06:27Z", "2024-05-10T06:54Z", None, "X3.9", "S17W29", 13664, 1, 30003),
      flare("2024-05-12T10:01:00-FLR-001", "2024-05-12T10:01Z", "2024-05-12T10:13Z", "2024-05-12T10:21Z", "M4.8", "S16W62", None, 2, 30004),
      flare("2024-05-14T02:00:00-FLR-001", "2024-05-14T02:00Z", "2024-05-14T02:12Z", "2024-05-14T02:20Z", "", "N10E05", 13670, 1, 30005)]
w2 = [flare("2024-05-10T06:27:00-FLR-001", "2024-05-10T06:27Z", "2024-05-10T06:54Z", "2024-05-10T07:06Z", "X3.9", "S17W29", 13664, 2, 30003),
      flare("2024-05-14T16:46:00-FLR-001", "2024-05-14T16:46Z", "2024-05-14T16:51Z", "2024-05-14T17:02Z", "X8.7", "S19W72", 13664, 1, 30006),
      flare("2024-05-27T06:34:00-FLR-001", "2024-05-27T06:34Z", "2024-05-27T07:08Z", "2024-05-27T07:30Z", "X2.8", "S13E88", None, 1, 30007)]
write("flares", "001", w1)
write("flares", "002", w2)

def note(mid, mtype, issued, summary, notes=True):
    body = ("## Community Coordinated Modeling Center Database Of Notifications, Knowledge, Information ( CCMC DONKI )\n"
            "## Message Type: %s\n##\n## Message Issue Date: %s:00Z\n## Message ID: %s\n##\n"
            "## Disclaimer: NOAA's Space Weather Prediction Center is the official source.\n\n\n"
            "## Summary:\n\n%s\n\n" % (mtype, issued[:-1], mid, summary))
    if notes:
        body += "## Notes: \n\nSample made up for the sluice demo.\n"
    return {"messageType": "FLR" if "Flare" in mtype else "CME", "messageID": mid,
            "messageURL": "Alert/%s" % mid, "messageIssueTime": issued, "messageBody": body}
n1 = [note("20240510-AL-004", "Space Weather Notification - X3.9 Flare", "2024-05-10T07:12Z",
           "Flare start time: 2024-05-10T06:27Z. \nFlare peak time: 2024-05-10T06:54Z.\nFlare intensity: X3.9 class.\nSource region: S17W29 (Active Region 13664).\nActivity ID: 2024-05-10T06:27:00-FLR-001."),
      note("20240508-AL-002", "Space Weather Notification - X1.0 Flare", "2024-05-08T02:40Z",
           "Flare start time: 2024-05-08T01:41Z. \nFlare intensity: X1.0 class.\nSource region: S20W17 (Active Region 13664).", notes=False),
      note("20240505-AL-001", "Space Weather Notification - CME", "2024-05-05T12:00Z",
           "CME with ID 2024-05-05T06:24:00-CME-001 is \u0093expected\u0094 to miss Earth.")]
n2 = [note("20240514-AL-006", "Space Weather Notification - X8.7 Flare", "2024-05-14T17:30Z",
           "Flare start time: 2024-05-14T16:46Z. \nFlare peak time: 2024-05-14T16:51Z.\nFlare intensity: X8.7 class.\nSource region: S19W72 (Active Region 13664)."),
      note("20240510-AL-004", "Space Weather Notification - X3.9 Flare", "2024-05-10T07:12Z",
           "Flare start time: 2024-05-10T06:27Z. \nFlare peak time: 2024-05-10T06:54Z.\nFlare intensity: X3.9 class.\nSource region: S17W29 (Active Region 13664).\nActivity ID: 2024-05-10T06:27:00-FLR-001.")]
write("notifications", "001", n1)
write("notifications", "002", n2)
print("samples written to", os.path.normpath(root))
