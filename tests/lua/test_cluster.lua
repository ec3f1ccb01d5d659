-- gan.cluster: purity and NMI on assignments built by hand.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local cluster = gan.cluster

T.case("the same partition under other names: purity 1, NMI 1", function()
  local a = { 0, 0, 1, 1, 2, 2, 2 }
  local b = { 5, 5, 3, 3, 9, 9, 9 }
  local p, label = cluster.purity(a, b)
  U.close(p, 1, 1e-12, "purity")
  U.equal(label[0], 5, "cluster 0 -> class 5")
  U.equal(label[2], 9, "cluster 2 -> class 9")
  U.close(cluster.nmi(a, b), 1, 1e-12, "nmi")
end)

T.case("one cluster for everything: purity is the largest class's share, NMI 0", function()
  local a = { 0, 0, 0, 0, 0, 0 }
  local b = { 0, 0, 0, 1, 1, 2 }
  U.close(cluster.purity(a, b), 0.5, 1e-12, "purity")
  U.close(cluster.nmi(a, b), 0, 1e-12, "nmi")
end)

T.case("independent assignments: NMI 0", function()
  local a = { 0, 0, 1, 1, 0, 0, 1, 1 }
  local b = { 0, 1, 0, 1, 2, 3, 2, 3 }
  U.close(cluster.purity(a, b), 0.25, 1e-12, "purity")
  U.close(cluster.nmi(a, b), 0, 1e-12, "nmi")
end)

T.case("a worked example: purity 5/6, NMI 0.4787", function()
  -- cluster 0 holds classes {0, 0, 1}, cluster 1 holds {1, 1, 1}
  local a = { 0, 0, 0, 1, 1, 1 }
  local b = { 0, 0, 1, 1, 1, 1 }
  U.close(cluster.purity(a, b), 5 / 6, 1e-12, "purity")
  local nmi, mi, ha, hb = cluster.nmi(a, b)
  U.close(mi, 0.3182570841474064, 1e-12, "I(A; B)")
  U.close(ha, math.log(2), 1e-12, "H(A)")
  U.close(hb, 0.6365141682948128, 1e-12, "H(B)")
  U.close(nmi, 0.47870397138567994, 1e-12, "nmi")
end)

T.case("each class split in two clusters: purity 1, NMI 2/3", function()
  local a = { 0, 1, 2, 3, 0, 1, 2, 3 }
  local b = { 0, 0, 1, 1, 0, 0, 1, 1 }
  U.close(cluster.purity(a, b), 1, 1e-12, "purity")
  -- I = H(B) = ln 2, H(A) = ln 4: 2 ln 2 / (ln 4 + ln 2)
  U.close(cluster.nmi(a, b), 2 / 3, 1e-12, "nmi")
end)

T.case("int64 tensors give what lists give; the inputs are not changed", function()
  local a = { 0, 0, 0, 1, 1, 1 }
  local b = { 0.0, 0.0, 1.0, 1.0, 1.0, 1.0 }
  local pt = cluster.purity(gan.tensor(a, "int64"), gan.tensor({ 0, 0, 1, 1, 1, 1 }, "int64"))
  U.close(pt, cluster.purity(a, b), 1e-12, "purity")
  U.close(cluster.nmi(gan.tensor(a, "int64"), b), 0.47870397138567994, 1e-12, "nmi")
  U.equal(math.type(b[1]), "float", "list left as it was")
end)

T.case("bad input: clear errors", function()
  U.raises(function() cluster.purity({ 0, 1 }, { 0 }) end, "2 cluster ids but 1 class ids")
  U.raises(function() cluster.nmi({ 0, 0.5 }, { 0, 1 }) end, "clusters[2] is 0.5")
  U.raises(function() cluster.purity(gan.zeros(2, 2), { 0, 1 }) end, "1-d")
  U.raises(function() cluster.purity({}, {}) end, "no items")
  U.raises(function() cluster.nmi("abc", { 0 }) end, "tensor or a list")
end)

T.run()
