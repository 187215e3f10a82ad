// A module of the project: index.js (the entry by convention) requires it.
exports.total = (items) => items.reduce((sum, item) => sum + item.price * item.quantity, 0);
