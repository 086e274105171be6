# make_log.awk BYTES: a web service's log of at least BYTES bytes, the same every
# time (a fixed linear congruential generator), for the lines workload:
# 2026-12-03T10:00:00.468Z WARN service=api path=/orders/1522 status=304 ms=1651
BEGIN {
  size = ARGV[1] + 0
  ARGV[1] = ""
  split("INFO INFO INFO INFO INFO INFO DEBUG DEBUG WARN ERROR", level, " ")
  split("200 200 200 200 201 204 304 400 404 500", status, " ")
  split("api api web auth billing", service, " ")
  split("/users/ /orders/ /items/ /users/ /orders/", path, " ")
  x = 12345
  for (n = 0; total < size; n++) {
    x = (x * 1103515245 + 12345) % 2147483648
    r = int(x / 65536)
    line = sprintf("2026-12-03T10:%02d:%02d.%03dZ %s service=%s path=%s%d status=%s ms=%d",
      int(n / 60) % 60, n % 60, r % 1000, level[r % 10 + 1], service[int(r / 10) % 5 + 1],
      path[int(r / 50) % 5 + 1], r % 9973, status[int(r / 7) % 10 + 1], int(r / 13) % 2000)
    print line
    total += length(line) + 1
  }
}
