// The LIBSVM and CSV readers: the real heart_scale file and the committed Iris table load with
// their known sizes and statistics; each malformed line gives an error with its line number;
// comments, blank lines, sparse rows and an explicit feature count behave as the format says.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/datasets/csv.h>
#include <tapegrad/datasets/libsvm.h>

#include "data_test_util.h"
#include "test_util.h"

namespace tapegrad {
namespace {

using datasets::read_csv;
using datasets::read_libsvm;
using tapegrad::testing::expect_error;
using tapegrad::testing::expect_values;
using tapegrad::testing::ScratchDir;
using tapegrad::testing::write_text;

const std::string kIris = (std::filesystem::path(__FILE__).parent_path().parent_path() / "examples/data/iris.csv").string();
// Inputs that fuzz/ found the readers mishandling, kept as they were found.
const std::filesystem::path kFuzzRegressions = std::filesystem::path(__FILE__).parent_path() / "data/fuzz_regressions";

// ---- LIBSVM ----

TEST(LibsvmReader, ReadsSparseRowsWithCommentsAndBlankLines) {
  ScratchDir dir;
  write_text(dir.file("small"),
             "# two examples\n"
             "+1 1:0.5 3:-2   # trailing comment\n"
             "\n"
             "-1 2:1e-1\n"
             "0\n");
  const datasets::LibsvmData data = read_libsvm(dir.file("small"));
  expect_values(data.labels, {1, -1, 0});
  EXPECT_EQ(data.features.num_columns, 3);
  EXPECT_EQ(data.features.offsets.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 2, 3, 3}));
  EXPECT_EQ(data.features.columns.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 2, 1}));
  expect_values(data.dense(), {0.5, 0, -2, 0, 0.1, 0, 0, 0, 0});
  expect_values(data.binary_labels(), {1, 0, 0});
}

TEST(LibsvmReader, AnExplicitFeatureCountWidensTheTableAndBoundsTheIndices) {
  ScratchDir dir;
  write_text(dir.file("narrow"), "1 2:3\n");
  EXPECT_EQ(read_libsvm(dir.file("narrow"), {.num_features = 5}).dense().shape(), Shape({1, 5}));
  expect_error([&] { read_libsvm(dir.file("narrow"), {.num_features = 1}); },
               {"narrow:1", "feature index 2 exceeds the 1 features"});
}

TEST(LibsvmReader, MalformedLinesAreErrorsWithTheirLineNumbers) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"1 1:1\nabc 1:1\n", {":2:", "label 'abc' is not a number"}},
      {"1 1:1\n\n1 1-1\n", {":3:", "'1-1' is not index:value"}},
      {"1 0:1\n", {":1:", "feature index '0'", "1-based"}},
      {"1 x:1\n", {":1:", "feature index 'x'"}},
      {"1 3:1 2:1\n", {":1:", "feature index 2 follows 3", "increase"}},
      {"1 2:1 2:1\n", {":1:", "feature index 2 follows 2"}},
      {"1 1:abc\n", {":1:", "value 'abc' of feature 1"}},
      {"1 1:nan\n", {":1:", "not a finite number"}},
      {"1 1:\n", {":1:", "value '' of feature 1"}},
  };
  for (const auto& [text, fragments] : cases) {
    write_text(dir.file("bad"), text);
    expect_error([&] { read_libsvm(dir.file("bad")); }, fragments);
  }
  expect_error([] { read_libsvm("/nonexistent/heart_scale"); }, {"cannot open", "/nonexistent/heart_scale"});
}

// Labels and values are stored as float32: a finite number beyond its range would become
// infinity (the fuzzer's find: a label of 57 digits).
TEST(LibsvmReader, NumbersBeyondFloat32AreRefused) {
  ScratchDir dir;
  write_text(dir.file("big"), "1 1:1\n1e39 2:1\n");
  expect_error([&] { read_libsvm(dir.file("big")); }, {"big:2", "label '1e39'", "float32's range"});
  write_text(dir.file("big"), "1 1:-3.5e38\n");
  expect_error([&] { read_libsvm(dir.file("big")); }, {"big:1", "value '-3.5e38' of feature 1", "float32's range"});
  write_text(dir.file("largest"), "3.4028234e38 1:-3.4028234e38\n");  // float32's largest, rounded down
  const datasets::LibsvmData largest = read_libsvm(dir.file("largest"));
  EXPECT_EQ(largest.labels.to_vector<float>(), std::vector<float>{3.4028234e38f});
  EXPECT_EQ(largest.features.values.to_vector<float>(), std::vector<float>{-3.4028234e38f});
  const std::string found = (kFuzzRegressions / "libsvm_label_beyond_float32.libsvm").string();
  expect_error([&] { read_libsvm(found); }, {"libsvm_label_beyond_float32.libsvm:1", "float32's range"});
}

TEST(LibsvmReader, FeatureIndicesAreBoundedAndTheBoundCanBeRaised) {
  ScratchDir dir;
  write_text(dir.file("wide"), "1 1:1\n-1 2:1 1099511627776:1\n");  // 2^40
  expect_error([&] { read_libsvm(dir.file("wide")); },
               {"wide:2", "feature index 1099511627776", "'1099511627776:1'", "16777216", "max_feature_index"});
  write_text(dir.file("wider"), "1 1:1\n-1 16777217:1\n");
  expect_error([&] { read_libsvm(dir.file("wider")); }, {"wider:2", "16777217"});
  const datasets::LibsvmData raised = read_libsvm(dir.file("wider"), {.max_feature_index = std::int64_t{1} << 25});
  EXPECT_EQ(raised.features.num_columns, 16777217);
  EXPECT_EQ(raised.widest_line, 2);
}

TEST(LibsvmReader, AFileWithoutExamplesIsRefused) {
  ScratchDir dir;
  for (const std::string text : {"", "\n\n", "# only a comment\n"}) {
    write_text(dir.file("empty"), text);
    expect_error([&] { read_libsvm(dir.file("empty")); }, {"empty", "holds no examples"});
  }
}

// Binary data is refused from its first bytes, and nothing but printable characters reaches the
// message, however the file was damaged.
TEST(TextReaders, BinaryGarbageIsRefusedAndNeverEchoed) {
  ScratchDir dir;
  std::string garbage = "1 1:0.5\n";
  for (int i = 0; i < 200; ++i) garbage.push_back(static_cast<char>((i * 37 + 11) % 256));
  write_text(dir.file("garbage"), garbage);
  const auto is_printable = [](const std::string& message) {
    return std::all_of(message.begin(), message.end(), [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7f); });
  };
  for (const auto& read : std::vector<std::function<void()>>{[&] { read_libsvm(dir.file("garbage")); },
                                                             [&] { read_csv(dir.file("garbage")); }}) {
    try {
      read();
      ADD_FAILURE() << "binary data was accepted";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("garbage"), std::string::npos) << message;
      EXPECT_NE(message.find("not a text file"), std::string::npos) << message;
      EXPECT_TRUE(is_printable(message)) << message;
      EXPECT_LT(message.size(), 200u) << message;
    }
  }
  // Text with stray bytes past the first kilobytes: the line is named, the bytes escaped.
  std::string late = std::string(5000, '\n') + "1 1:\x01\x02\n";
  write_text(dir.file("late"), late);
  expect_error([&] { read_libsvm(dir.file("late")); }, {"late:5001", "0x01"});
  write_text(dir.file("high"), "1 1:\xff\xfe\xfd\n");  // not control bytes: an unparsable value
  try {
    read_libsvm(dir.file("high"));
    ADD_FAILURE() << "accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'\\xff\\xfe\\xfd'"), std::string::npos) << error.what();
    EXPECT_TRUE(is_printable(error.what())) << error.what();
  }
}

TEST(LibsvmReader, BinaryLabelsRefuseOtherClasses) {
  ScratchDir dir;
  write_text(dir.file("multi"), "1 1:1\n2 1:1\n");
  expect_error([&] { read_libsvm(dir.file("multi")).binary_labels(); }, {"label 2"});
}

TEST(RealHeartScale, Has270ExamplesOf13FeaturesScaledToMinusOneOne) {
  REQUIRE_REAL_DATA(data_dir, "libsvm/heart_scale");
  const datasets::LibsvmData data = read_libsvm(data_dir + "/libsvm/heart_scale");
  const Tensor x = data.dense();
  EXPECT_EQ(x.shape(), Shape({270, 13}));
  EXPECT_GE(min(x).item(), -1.0);
  EXPECT_LE(max(x).item(), 1.0);
  const std::vector<float> y = data.binary_labels().to_vector<float>();
  EXPECT_EQ(std::accumulate(y.begin(), y.end(), 0.0), 120.0) << "heart_scale has 120 positive and 150 negative";
  expect_values(x.select(0, 0).narrow(0, 0, 4), {0.708333, 1, 1, -0.320755}, 1e-6);
}

// ---- CSV ----

TEST(CsvReader, IrisLoadsWithItsPublishedColumnMeans) {
  const datasets::CsvTable iris = read_csv(kIris, {.label_column = "species"});
  EXPECT_EQ(iris.columns, (std::vector<std::string>{"sepal_length", "sepal_width", "petal_length", "petal_width"}));
  EXPECT_EQ(iris.values.shape(), Shape({150, 4}));
  expect_values(mean(iris.values, {0}), {5.843333, 3.057333, 3.758, 1.199333}, 1e-5);
  EXPECT_EQ(iris.label_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  const std::vector<std::int64_t> labels = iris.labels.to_vector<std::int64_t>();
  for (std::int64_t cls = 0; cls < 3; ++cls)
    EXPECT_EQ(std::count(labels.begin(), labels.end(), cls), 50) << "class " << cls;
  // Per-class means (Fisher 1936, as scikit-learn ships the table).
  expect_values(mean(iris.values.narrow(0, 50, 50), {0}), {5.936, 2.770, 4.260, 1.326}, 1e-5);
}

TEST(CsvReader, AllNumericTablesAndHeaderlessFiles) {
  ScratchDir dir;
  write_text(dir.file("t.csv"), "a, b\n1, 2\n\n3.5,-4\n");
  const datasets::CsvTable table = read_csv(dir.file("t.csv"));
  EXPECT_EQ(table.columns, (std::vector<std::string>{"a", "b"}));
  expect_values(table.values, {1, 2, 3.5, -4});
  EXPECT_FALSE(table.labels.defined());

  write_text(dir.file("plain.csv"), "1;2;3\n4;5;6\n");
  const datasets::CsvTable plain = read_csv(dir.file("plain.csv"), {.delimiter = ';', .header = false, .dtype = kFloat64});
  EXPECT_EQ(plain.columns, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(plain.values.dtype(), kFloat64);
  expect_values(plain.values, {1, 2, 3, 4, 5, 6});
}

TEST(CsvReader, MalformedRowsAreErrorsWithLineAndColumn) {
  ScratchDir dir;
  write_text(dir.file("ragged.csv"), "a,b\n1,2\n3\n");
  expect_error([&] { read_csv(dir.file("ragged.csv")); }, {"ragged.csv:3", "1 cells", "2 columns"});
  write_text(dir.file("text.csv"), "a,b\n1,two\n");
  expect_error([&] { read_csv(dir.file("text.csv")); }, {"text.csv:2", "column 'b'", "'two'"});
  write_text(dir.file("empty_cell.csv"), "a,b\n1,\n");
  expect_error([&] { read_csv(dir.file("empty_cell.csv")); }, {":2", "column 'b'"});
  expect_error([&] { read_csv(kIris, {.label_column = "kind"}); }, {"no column 'kind'", "species"});
  write_text(dir.file("nothing.csv"), "");
  expect_error([&] { read_csv(dir.file("nothing.csv")); }, {"nothing.csv", "holds no lines"});
}

// float32 tables refuse what float32 cannot hold, rather than store infinity (the fuzzer's find:
// a cell of 96 ones); float64 tables take it.
TEST(CsvReader, NumbersBeyondFloat32AreRefusedInFloat32Tables) {
  ScratchDir dir;
  write_text(dir.file("big.csv"), "a,b\n1,2\n3,-1e39\n");
  expect_error([&] { read_csv(dir.file("big.csv")); }, {"big.csv:3", "column 'b'", "'-1e39'", "float32's range",
                                                        "kFloat64"});
  EXPECT_EQ(read_csv(dir.file("big.csv"), {.dtype = kFloat64}).values.to_vector<double>(),
            (std::vector<double>{1, 2, 3, -1e39}));
  const std::string found = (kFuzzRegressions / "csv_value_beyond_float32.csv").string();
  expect_error([&] { read_csv(found); }, {"csv_value_beyond_float32.csv:2", "float32's range"});
}

}  // namespace
}  // namespace tapegrad
