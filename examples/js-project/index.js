const { total } = require('./lib/cart');

const items = require('./items.json');
console.log(`${items.length} items, total ${total(items).toFixed(2)}`);
