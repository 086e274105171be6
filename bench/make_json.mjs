// make_json.mjs: a JSON API response of 2,000 users (about 580 kB), the same
// every time, for the json workload. Usage: make_json.mjs > file
let x = 7;
const rnd = () => (x = (x * 48271) % 2147483647) / 2147483647;
const users = [];
for (let i = 0; i < 2000; i++) {
  users.push({
    id: 1000000 + i, name: `User ${i}`, email: `user${i}@example.com`, active: rnd() > 0.3,
    score: Math.round(rnd() * 100000) / 100, tags: ['admin', 'beta', 'ops'].slice(0, i % 4),
    address: {
      street: `${i} Main St`, city: 'Springfield', zip: String(10000 + i),
      geo: { lat: Math.round((rnd() * 180 - 90) * 1e6) / 1e6, lng: Math.round((rnd() * 360 - 180) * 1e6) / 1e6 },
    },
    created_at: '2026-12-03T10:00:00.000Z', note: i % 7 === 0 ? null : 'line one\nline "two" é',
  });
}
process.stdout.write(JSON.stringify({ page: 1, per_page: 2000, total: 123456, users }));
