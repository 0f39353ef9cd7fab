// Tests for train/metrics_log: number formatting, string escaping, append mode, and that every
// line is valid JSON (checked by Python's json module).

#include "train/metrics_log.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

class MetricsLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/pretext_metrics_log_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string dir_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(JsonObjectTest, FormatsNumbers) {
  EXPECT_EQ(JsonObject().add("step", int64_t{42}).add("epoch", 3).str(),
            "{\"step\": 42, \"epoch\": 3}");
  EXPECT_EQ(JsonObject().add("big", int64_t{9007199254740993}).str(),
            "{\"big\": 9007199254740993}");
  EXPECT_EQ(JsonObject().add("x", 0.1).str(), "{\"x\": 0.1}");
  EXPECT_EQ(JsonObject().add("x", 2.0).str(), "{\"x\": 2}");
  EXPECT_EQ(JsonObject().add("nan", std::nan("")).add("inf", -INFINITY).str(),
            "{\"nan\": null, \"inf\": null}");
  for (const double value : {1.0 / 3.0, 1e-300, 6.02214076e23, -2.5e-7, 0.30000000000000004,
                             std::numeric_limits<double>::max()}) {
    const std::string text = JsonObject().add("v", value).str();
    const std::string number = text.substr(6, text.size() - 7);
    EXPECT_EQ(std::strtod(number.c_str(), nullptr), value) << text;
  }
}

TEST(JsonObjectTest, EscapesStrings) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a \"quote\" and \\ backslash"), "\"a \\\"quote\\\" and \\\\ backslash\"");
  EXPECT_EQ(json_quote("line\nbreak\ttab\rreturn"), "\"line\\nbreak\\ttab\\rreturn\"");
  EXPECT_EQ(json_quote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json_quote("\xce\xb1\xce\xb2"), "\"\xce\xb1\xce\xb2\"");
  EXPECT_EQ(JsonObject().add("key \"q\"", std::string("v\n")).str(),
            "{\"key \\\"q\\\"\": \"v\\n\"}");
}

TEST_F(MetricsLogTest, AppendsLinesThatParseAsJson) {
  const std::string path = dir_ + "/metrics.jsonl";
  {
    MetricsLog log(path);
    log.write(JsonObject().add("step", int64_t{0}).add("loss", 1.2345678901234567));
    log.write(
        JsonObject().add("step", int64_t{1}).add("note", std::string("tab\there \"q\" \x02")));
    // Flushed per line: readable before the log is closed.
    EXPECT_EQ(read_lines(path).size(), 2u);
  }
  {
    MetricsLog resumed(path);  // a resumed run continues the same file
    resumed.write(JsonObject()
                      .add("step", int64_t{2})
                      .add("lr", std::nan(""))
                      .add("u", std::string("\xe2\x9c\x93")));
  }
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "{\"step\": 0, \"loss\": 1.2345678901234567}");
  EXPECT_EQ(lines[2].rfind("{\"step\": 2, \"lr\": null", 0), 0u) << lines[2];
  for (const std::string& line : lines) {
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
  }
  const std::string check = "'" + pretext::testing::python() +
                            "' -c \"import json,sys; [json.loads(l) for l in open(sys.argv[1], "
                            "encoding='utf-8')]\" '" +
                            path + "'";
  EXPECT_EQ(std::system(check.c_str()), 0) << "python's json module rejected " << path;
}

TEST_F(MetricsLogTest, ResumingDropsRecordsPastTheResumedStep) {
  const std::string path = dir_ + "/metrics.jsonl";
  {
    MetricsLog log(path);
    for (int64_t step = 1; step <= 5; ++step) log.write(JsonObject().add("step", step));
  }
  {
    MetricsLog resumed(path, /*keep_through_step=*/3);
    resumed.write(JsonObject().add("step", int64_t{4}).add("again", int64_t{1}));
  }
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "{\"step\": 3}");
  EXPECT_EQ(lines[3], "{\"step\": 4, \"again\": 1}");
}

TEST_F(MetricsLogTest, OpenFailureNamesThePath) {
  const std::string path = dir_ + "/no/such/folder/metrics.jsonl";
  try {
    MetricsLog log(path);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pretext
