// A character-level transformer language model trained on a book: Moby Dick, as Project
// Gutenberg's plain text (scripts/fetch_data.sh unpacks it from a Debian package). A GPT-style
// decoder: token and position embeddings, blocks of pre-LayerNorm causal self-attention and a GELU
// MLP, each added back to its input, a final LayerNorm and a Linear head onto the characters.
// Trained with AdamW on random windows of the first 90% of the text under a cosine schedule;
// reports the loss on the last 10% in nats and in bits per character, and ends by writing a
// sample of generated text.
//
//   build/examples/char_transformer                     # 3000 steps
//   build/examples/char_transformer --steps 500 --sample-length 300
//   build/examples/char_transformer --steps 6000 --resume
//
// Characters are the text's bytes (the book is ASCII apart from a handful of UTF-8 punctuation
// marks); carriage returns and the byte-order mark are dropped.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <experiment/checkpoint.h>
#include <experiment/plot.h>
#include <experiment/program.h>
#include <experiment/progress.h>

using namespace tapegrad;

namespace {

struct ModelConfig {
  std::int64_t vocabulary = 0;
  std::int64_t context = 64;  // characters a prediction sees
  std::int64_t width = 128;   // embedding size
  std::int64_t heads = 4;
  std::int64_t layers = 2;
  double dropout = 0.1;
};

struct TrainConfig {
  std::int64_t steps = 3000;
  std::int64_t batch_size = 32;
  double lr = 3e-3;
  double weight_decay = 0.1;
  std::int64_t eval_every = 250;
  std::int64_t eval_batches = 16;
  std::int64_t sample_length = 500;
  double temperature = 0.8;
  std::string prompt = "Call me Ishmael.";
  std::int64_t stop_after = 0;  // 0: run every step
};

// The book as a sequence of character codes, and the alphabet that maps codes to bytes.
struct Corpus {
  std::vector<unsigned char> alphabet;  // sorted bytes; a code is an index into it
  Tensor train, validation;             // int64 codes
};

std::string read_book(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("cannot open the book '{}'; run scripts/fetch_data.sh (or pass --data-dir)", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  std::erase(text, '\r');
  return text;
}

Corpus load_corpus(const std::string& path, std::int64_t limit, std::int64_t context) {
  const std::string text = read_book(path);
  std::array<bool, 256> present{};
  for (const char c : text) present[static_cast<unsigned char>(c)] = true;
  Corpus corpus;
  std::array<std::int64_t, 256> code{};
  for (int byte = 0; byte < 256; ++byte)
    if (present[byte]) {
      code[byte] = static_cast<std::int64_t>(corpus.alphabet.size());
      corpus.alphabet.push_back(static_cast<unsigned char>(byte));
    }
  std::vector<std::int64_t> codes;
  codes.reserve(text.size());
  for (const char c : text) codes.push_back(code[static_cast<unsigned char>(c)]);
  const auto split = static_cast<std::int64_t>(codes.size() * 9 / 10);
  const std::int64_t train_end = limit > 0 ? std::min(limit, split) : split;
  TAPEGRAD_CHECK(train_end > context && static_cast<std::int64_t>(codes.size()) - split > context,
                 "the text of '{}' ({} characters, {} for training) is too short for --context {}", path, codes.size(),
                 train_end, context);
  const Tensor all = from_vector(codes);
  corpus.train = all.narrow(0, 0, train_end);
  corpus.validation = all.narrow(0, split, static_cast<std::int64_t>(codes.size()) - split);
  return corpus;
}

// `batch` windows of context + 1 characters starting at the given offsets: inputs [batch, context]
// and the next character of each position as targets.
struct Batch {
  Tensor input, target;
};

Batch windows(const Tensor& text, const Tensor& starts, std::int64_t context) {
  const Tensor positions = starts.unsqueeze(1) + arange(0, static_cast<double>(context + 1), 1, kInt64).unsqueeze(0);
  const Tensor chars = index_select(text, 0, positions.reshape({-1})).reshape({starts.size(0), context + 1});
  return {chars.narrow(1, 0, context), chars.narrow(1, 1, context)};
}

Batch random_batch(const Tensor& text, std::int64_t batch, std::int64_t context, Generator& generator) {
  return windows(text, randint(0, text.size(0) - context, {batch}, generator, TensorOptions(kInt64)), context);
}

// Causal multi-head self-attention: one Linear makes queries, keys and values, attention runs per
// head with the causal mask, and a Linear projects the heads' concatenation back.
class CausalSelfAttention : public nn::Module {
 public:
  explicit CausalSelfAttention(const ModelConfig& config)
      : heads_(config.heads),
        dropout_(config.dropout),
        qkv_(register_module("qkv", std::make_shared<nn::Linear>(config.width, 3 * config.width))),
        proj_(register_module("proj", std::make_shared<nn::Linear>(config.width, config.width))) {}

  Tensor forward(const Tensor& x) override {
    const std::int64_t batch = x.size(0), length = x.size(1), width = x.size(2);
    const auto per_head = [&](const Tensor& t) {
      return t.reshape({batch, length, heads_, width / heads_}).transpose(1, 2);  // [B, heads, T, head width]
    };
    const std::vector<Tensor> qkv = chunk(qkv_->forward(x), 3, 2);
    const Tensor attended = scaled_dot_product_attention(per_head(qkv[0]), per_head(qkv[1]), per_head(qkv[2]), {},
                                                         is_training() ? dropout_ : 0.0, /*is_causal=*/true);
    return proj_->forward(attended.transpose(1, 2).reshape({batch, length, width}));
  }
  std::string name() const override { return "CausalSelfAttention"; }
  std::string extra_repr() const override { return fmt::format("heads={}", heads_); }

 private:
  std::int64_t heads_;
  double dropout_;
  std::shared_ptr<nn::Linear> qkv_, proj_;
};

// x + attention(ln1(x)), then x + mlp(ln2(x)).
class Block : public nn::Module {
 public:
  explicit Block(const ModelConfig& config)
      : ln1_(register_module("ln1", std::make_shared<nn::LayerNorm>(Shape{config.width}))),
        attention_(register_module("attention", std::make_shared<CausalSelfAttention>(config))),
        ln2_(register_module("ln2", std::make_shared<nn::LayerNorm>(Shape{config.width}))),
        mlp_(register_module("mlp", std::make_shared<nn::Sequential>(
                                        nn::Linear(config.width, 4 * config.width), nn::GELU(),
                                        nn::Linear(4 * config.width, config.width), nn::Dropout(config.dropout)))) {}

  Tensor forward(const Tensor& x) override {
    const Tensor h = x + attention_->forward(ln1_->forward(x));
    return h + mlp_->forward(ln2_->forward(h));
  }
  std::string name() const override { return "Block"; }

 private:
  std::shared_ptr<nn::LayerNorm> ln1_;
  std::shared_ptr<CausalSelfAttention> attention_;
  std::shared_ptr<nn::LayerNorm> ln2_;
  std::shared_ptr<nn::Sequential> mlp_;
};

// codes [B, T] -> logits [B, T, vocabulary].
class CharTransformer : public nn::Module {
 public:
  explicit CharTransformer(const ModelConfig& config)
      : config_(config),
        tokens_(register_module("tokens", std::make_shared<nn::Embedding>(config.vocabulary, config.width))),
        positions_(register_module("positions", std::make_shared<nn::Embedding>(config.context, config.width))),
        blocks_(register_module("blocks", std::make_shared<nn::ModuleList>())),
        ln_(register_module("ln", std::make_shared<nn::LayerNorm>(Shape{config.width}))),
        head_(register_module("head", std::make_shared<nn::Linear>(config.width, config.vocabulary))) {
    for (std::int64_t i = 0; i < config.layers; ++i) blocks_->push_back(std::make_shared<Block>(config));
    // GPT-2's initialization: N(0, 0.02) weights and zero biases throughout.
    for (auto& [name, parameter] : named_parameters())
      if (name.ends_with("bias")) nn::init::zeros_(parameter);
      else if (!name.starts_with("ln") && name.find(".ln") == std::string::npos) nn::init::normal_(parameter, 0, 0.02);
  }

  Tensor forward(const Tensor& codes) override {
    const std::int64_t length = codes.size(1);
    TAPEGRAD_CHECK(length <= config_.context, "CharTransformer: {} characters given, the context holds {}", length,
                   config_.context);
    Tensor x = tokens_->forward(codes) + positions_->forward(arange(0, static_cast<double>(length), 1, TensorOptions(kInt64).with_device(codes.device())));
    for (const auto& block : *blocks_) x = block->forward(x);
    return head_->forward(ln_->forward(x));
  }
  std::string name() const override { return "CharTransformer"; }
  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  std::shared_ptr<nn::Embedding> tokens_, positions_;
  std::shared_ptr<nn::ModuleList> blocks_;
  std::shared_ptr<nn::LayerNorm> ln_;
  std::shared_ptr<nn::Linear> head_;
};

Tensor language_model_loss(const Tensor& logits, const Tensor& targets) {
  const std::int64_t vocabulary = logits.size(2);
  return cross_entropy(logits.reshape({-1, vocabulary}), targets.reshape({-1}));
}

// Mean loss over fixed windows spread evenly through the validation text, so every evaluation
// scores the same characters.
double validation_loss(CharTransformer& model, const Tensor& text, const TrainConfig& train, Device device) {
  NoGradGuard no_grad;
  model.eval();
  const std::int64_t context = model.config().context, windows_count = train.eval_batches * train.batch_size;
  const double spacing = static_cast<double>(text.size(0) - context - 1) / static_cast<double>(windows_count);
  double total = 0;
  for (std::int64_t b = 0; b < train.eval_batches; ++b) {
    std::vector<std::int64_t> starts;
    for (std::int64_t i = 0; i < train.batch_size; ++i)
      starts.push_back(static_cast<std::int64_t>(spacing * static_cast<double>(b * train.batch_size + i)));
    const Batch batch = windows(text, from_vector(starts), context);
    total += language_model_loss(model(batch.input.to(device)), batch.target.to(device)).item();
  }
  model.train();
  return total / static_cast<double>(train.eval_batches);
}

// Continues `prompt` by `length` characters, each drawn from the model's distribution at
// temperature `temperature` given the last `context` characters.
std::string generate(CharTransformer& model, const Corpus& corpus, const std::string& prompt, std::int64_t length,
                     double temperature, Generator& generator, Device device) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<std::int64_t> codes;
  for (const char c : prompt) {
    const auto found = std::ranges::find(corpus.alphabet, static_cast<unsigned char>(c));
    TAPEGRAD_CHECK(found != corpus.alphabet.end(), "--prompt: the character '{}' does not occur in the book", c);
    codes.push_back(found - corpus.alphabet.begin());
  }
  std::string text = prompt;
  const std::int64_t context = model.config().context;
  for (std::int64_t i = 0; i < length; ++i) {
    const auto first = static_cast<std::int64_t>(codes.size()) - std::min<std::int64_t>(context, codes.size());
    const std::vector<std::int64_t> window(codes.begin() + first, codes.end());
    const Tensor input = from_vector(window, Shape{1, static_cast<std::int64_t>(window.size())}).to(device);
    const Tensor logits = model(input).select(1, static_cast<std::int64_t>(window.size()) - 1).reshape({-1});
    const Tensor probabilities = softmax(logits / temperature, 0).cpu().to(kFloat64);
    // Inverse-CDF sampling of one character.
    const double u = rand({1}, generator, TensorOptions(kFloat64)).item();
    double cumulative = 0;
    std::int64_t next = probabilities.size(0) - 1;
    for (std::int64_t c = 0; c < probabilities.size(0); ++c) {
      cumulative += probabilities[c].item();
      if (u < cumulative) {
        next = c;
        break;
      }
    }
    codes.push_back(next);
    text.push_back(static_cast<char>(corpus.alphabet[static_cast<std::size_t>(next)]));
  }
  model.train();
  return text;
}

experiment::Figure training_curves(const experiment::MetricsLog& metrics, const experiment::Program& program) {
  using experiment::Series;
  return {.png = program.out_path("curves.png"),
          .csv = metrics.path(),
          .panels = {{.title = "loss", .x_label = "step", .y_label = "cross-entropy (nats per character)",
                      .series = {Series{.title = "train", .x = "step", .y = "train_loss", .style = "linespoints"},
                                 Series{.title = "validation", .x = "step", .y = "validation_loss",
                                        .style = "linespoints"}}},
                     {.title = "validation bits per character", .x_label = "step", .y_label = "bits",
                      .series = {Series{.title = "validation", .x = "step", .y = "validation_bpc",
                                        .style = "linespoints"}}}}};
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("char_transformer",
                              "A character-level transformer language model (GPT-style decoder: causal self-attention "
                              "and GELU MLP blocks with pre-LayerNorm) trained with AdamW on Moby Dick; reports "
                              "validation loss and bits per character and writes a generated sample",
                              {.lr = 3e-3}, experiment::kDataFlags | experiment::kResumeFlag);
  ModelConfig model_config;
  TrainConfig train;
  CLI::App& app = program.app();
  app.add_option("--steps", train.steps, "Optimizer steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", train.batch_size, "Windows per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", train.lr, "AdamW's peak learning rate (cosine decay to a tenth)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--weight-decay", train.weight_decay, "AdamW's decoupled weight decay")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--context", model_config.context, "Characters each prediction sees")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--width", model_config.width, "Embedding width")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--heads", model_config.heads, "Attention heads (must divide --width)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--layers", model_config.layers, "Transformer blocks")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--dropout", model_config.dropout, "Dropout in attention and after each MLP")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  app.add_option("--eval-every", train.eval_every, "Steps between validation scores and checkpoints")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--eval-batches", train.eval_batches, "Batches of validation windows per score")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--sample-length", train.sample_length, "Characters generated at the end")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--temperature", train.temperature, "Sampling temperature")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--prompt", train.prompt, "Text the sample continues")->capture_default_str();
  app.add_option("--stop-after", train.stop_after,
                 "Stop after this many steps, as an interrupted run would (the schedule still spans --steps); "
                 "--resume continues")
      ->check(CLI::PositiveNumber);
  for (const char* flag : {"stop-after", "sample-length", "temperature", "prompt"}) program.may_change_on_resume(flag);

  return program.run(argc, argv, [&](experiment::Program& p) {
    const experiment::Flags& flags = p.flags();
    TAPEGRAD_CHECK(model_config.width % model_config.heads == 0, "--heads {} does not divide --width {}",
                   model_config.heads, model_config.width);
    const Corpus corpus = load_corpus(p.data_dir() + "/text/mobydick.txt", flags.limit_train, model_config.context);
    model_config.vocabulary = static_cast<std::int64_t>(corpus.alphabet.size());

    CharTransformer model(model_config);
    model.to(p.device());
    optim::AdamW optimizer(model.parameters(), {.lr = train.lr, .betas = {0.9, 0.99}, .weight_decay = train.weight_decay});
    optim::CosineAnnealingLR schedule(optimizer, train.steps, train.lr / 10);
    Generator batches(flags.seed + 1), sampling(flags.seed + 2);

    experiment::MetricsLog metrics(p.out_path("metrics.csv"),
                                   {"step", "lr", "train_loss", "validation_loss", "validation_bpc", "seconds"});
    experiment::Checkpointer checkpoint(p.out_path("checkpoint.safetensors"), model, optimizer, metrics);
    checkpoint.track("batches", batches);
    checkpoint.track(schedule);
    checkpoint.restore_if(flags.resume);
    std::int64_t step = checkpoint.steps_done();
    if (step > 0) fmt::print("resumed from {} after step {}\n", checkpoint.path().string(), step);
    fmt::print("{}\n{} characters of training text, {} of validation, an alphabet of {}, {} parameters, {} threads\n",
               model, corpus.train.size(0), corpus.validation.size(0), model_config.vocabulary, model.parameter_count(),
               num_threads());

    double validation = std::nan("");
    const std::int64_t last_step = train.stop_after > 0 ? std::min(train.stop_after, train.steps) : train.steps;
    while (step < last_step) {
      const std::int64_t interval = std::min(train.eval_every, last_step - step);
      experiment::ProgressBar progress(fmt::format("steps {}-{}", step + 1, step + interval), interval);
      const auto start = std::chrono::steady_clock::now();
      double loss_sum = 0;
      for (std::int64_t i = 0; i < interval; ++i) {
        const Batch batch = random_batch(corpus.train, train.batch_size, model_config.context, batches);
        const Tensor loss = language_model_loss(model(batch.input.to(p.device())), batch.target.to(p.device()));
        const double value = loss.item();
        if (!std::isfinite(value))
          throw experiment::Diverged(fmt::format("loss became {} at step {} (lr {:g}); lower --lr", value, step + 1,
                                                 schedule.last_lr().front()));
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        schedule.step();
        loss_sum += value;
        ++step;
        progress.update(i + 1, (i + 1) * train.batch_size, value);
      }
      progress.finish();
      validation = validation_loss(model, corpus.validation, train, p.device());
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double train_loss = loss_sum / static_cast<double>(interval);
      fmt::print("step {:>5}/{}  train loss {:.4f}  validation loss {:.4f} ({:.3f} bits per character)  {:.1f} s\n",
                 step, train.steps, train_loss, validation, validation / std::numbers::ln2, seconds);
      metrics.append({step, schedule.last_lr().front(), train_loss, validation, validation / std::numbers::ln2, seconds});
      checkpoint.save(step / train.eval_every, step);
    }
    if (std::isnan(validation)) validation = validation_loss(model, corpus.validation, train, p.device());
    experiment::render(training_curves(metrics, p));
    nn::save(model, p.out_path("model.safetensors"));

    const std::string sample =
        generate(model, corpus, train.prompt, train.sample_length, train.temperature, sampling, p.device());
    std::ofstream(p.out_path("sample.txt"), std::ios::binary) << sample;
    fmt::print("sample (temperature {}):\n{}\n\nmetrics, plots, model and sample in {}\nvalidation loss {:.4f}, "
               "{:.3f} bits per character\n",
               train.temperature, sample, p.out_dir().string(), validation, validation / std::numbers::ln2);
  });
}
