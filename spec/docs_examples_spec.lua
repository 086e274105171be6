-- Every ```lua block of docs/*.md runs in a child ebb and prints what its `-->`
-- comments say (the convention is in docs/README.md, "Examples"): a block whose
-- first line is `-- fragment` is not run, one whose first line names a spec file
-- (`-- spec/x_spec.lua`) runs with `ebb test` and must pass.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local doc_examples = require "doc_examples"

local function list_pages()
  local p = assert(io.popen("ls docs/*.md"))
  local pages = {}
  for line in p:lines() do pages[#pages + 1] = line end
  p:close()
  return pages
end

-- The examples name files under /tmp, as a reader would; each block runs with
-- /tmp/ standing for a directory of its own, so two suites running at once on
-- one machine do not write each other's files.
local function private_tmp(text, dir)
  return (text:gsub("/tmp/", (dir .. "/"):gsub("%%", "%%%%")))
end

-- Runs `code` as a script (or, with `spec`, as a spec file under `ebb test`):
-- its stdout, stderr and exit status, and the private directory's name.
local function run_block(code, spec)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. run.quote(dir)) == 0)
  local path = dir .. (spec and "/block_spec.lua" or "/block.lua")
  local f = assert(io.open(path, "w"))
  f:write(private_tmp(code, dir))
  f:close()
  local out, err, status = run.ebb((spec and "test " or "") .. run.quote(path))
  os.execute("rm -rf " .. run.quote(dir))
  return out, err, status, dir
end

describe("the examples in docs/", function()
  it("are found, and the convention's markers are read", function()
    local blocks = doc_examples.blocks(table.concat({
      "text", "```lua", "print(1) --> 1", "-->   two spaces", "```",
      "```lua", "-- fragment", "x()", "```",
      "```lua", "-- spec/a_spec.lua", "it('a', function() end)", "```",
    }, "\n"))
    assert.equal(3, #blocks)
    assert.same({ 3, "1\n  two spaces\n", false, nil }, { blocks[1].line, blocks[1].expected, blocks[1].fragment == true, blocks[1].spec })
    assert.is_true(blocks[2].fragment)
    assert.equal("spec/a_spec.lua", blocks[3].spec)
  end)

  it("fail when a block prints something other than its --> comments say", function()
    local block = doc_examples.blocks("```lua\nprint(1 + 1) --> 3\n```\n")[1]
    local out, err, status = run_block(block.code)
    assert.same({ "2\n", "", 0 }, { out, err, status })
    assert.are_not.equal(block.expected, out)
  end)

  for _, page in ipairs(list_pages()) do
    for _, block in ipairs(doc_examples.blocks(assert(run.read_file(page)))) do
      if not block.fragment then
        it(page .. ":" .. block.line .. " prints what its --> comments say", function()
          local out, err, status, dir = run_block(block.code, block.spec)
          if block.spec then
            assert.equal(0, status, out .. err)
          else
            local expected = private_tmp(block.expected, dir)
            assert.same({ status = 0, stderr = "", stdout = expected }, { status = status, stderr = err, stdout = out })
          end
        end)
      end
    end
  end
end)
