-- gan.roc: AUROC on scores built by hand.
package.path = "tests/lua/?.lua;" .. package.path
local gan = require "gan"
local T = require "gan.test"
local U = require "util"
local roc = gan.roc

T.case("perfect, reversed and uninformative scores", function()
  U.close(roc.auroc({ 0.1, 0.2, 0.8, 0.9 }, { false, false, true, true }), 1, 1e-12, "perfect")
  U.close(roc.auroc({ 0.1, 0.2, 0.8, 0.9 }, { true, true, false, false }), 0, 1e-12, "reversed")
  U.close(roc.auroc({ 5, 5, 5, 5 }, { 1, 0, 1, 0 }), 0.5, 1e-12, "all tied")
end)

T.case("a worked example with a tie", function()
  -- positives 0.9, 0.5; negatives 0.5, 0.3, 0.7: pairs won 3 + (1 tie = 0.5) + 1 of 6
  U.close(roc.auroc({ 0.9, 0.5, 0.5, 0.3, 0.7 }, { 1, 1, 0, 0, 0 }), 4.5 / 6, 1e-12, "auroc")
end)

T.case("tensors work like lists", function()
  local s = gan.tensor { 0.3, 0.1, 0.4, 0.2 }
  U.close(roc.auroc(s, gan.tensor { 1, 0, 1, 0 }), 1, 1e-6, "tensor labels")
  U.close(roc.auroc(s, { 0, 1, 1, 0 }), 0.5, 1e-6, "list labels")
end)

T.case("bad input: clear errors", function()
  U.raises(function() roc.auroc({ 1, 2 }, { 1 }) end, "2 scores but 1 labels")
  U.raises(function() roc.auroc({ 1, 2 }, { 1, 1 }) end, "both positive and negative")
  U.raises(function() roc.auroc({ 1, 0 / 0 }, { 1, 0 }) end, "score 2 is")
  U.raises(function() roc.auroc({ 1, 2 }, { 1, 2 }) end, "label 2 is 2")
  U.raises(function() roc.auroc(gan.zeros(2, 2), { 1, 0 }) end, "1-d")
end)

T.run()
