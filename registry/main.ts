// placeholder until the registry lands
import http from 'node:http';
http.createServer((_q, r) => { r.writeHead(200, {'content-type':'application/json'}); r.end('[]'); }).listen(Number(process.env.REGISTRY_PORT ?? 8081), '127.0.0.1');
