//! Presets of services based in China. Where a service has a mainland and an international
//! endpoint, the preset uses the mainland one and the hint names the other.

use super::ProviderType;
use super::preset::{AuthStyle, Capabilities, Group, Preset, ReasoningField};
use crate::provider_type::Protocol;

/// The fields every row here shares: OpenAI's wire format, a bearer key that is required.
macro_rules! china {
    ($($field:ident: $value:expr),* $(,)?) => {
        Preset {
            group: Group::China,
            protocol: Protocol::OpenAi,
            base_url_template: None,
            auth: AuthStyle::Bearer,
            requires_key: true,
            accepts_any_model: false,
            $($field: $value),*
        }
    };
}

pub static DEEPSEEK: Preset = china! {
    kind: ProviderType::Deepseek,
    name: "deepseek",
    label: "DeepSeek",
    default_base_url: Some("https://api.deepseek.com/v1"),
    default_model: Some("deepseek-chat"),
    suggested_models: &["deepseek-chat", "deepseek-reasoner"],
    capabilities: Capabilities {
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://api-docs.deepseek.com/"),
    hint: "deepseek-reasoner streams its thinking in reasoning_content; fill-in-the-middle needs the https://api.deepseek.com/beta base URL.",
};

pub static QWEN: Preset = china! {
    kind: ProviderType::Qwen,
    name: "qwen",
    label: "Qwen (Alibaba DashScope)",
    default_base_url: Some("https://dashscope.aliyuncs.com/compatible-mode/v1"),
    default_model: Some("qwen-plus"),
    suggested_models: &["qwen-plus", "qwen-flash", "qwen3-max", "text-embedding-v3"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://help.aliyun.com/zh/model-studio/compatibility-of-openai-with-dashscope"),
    hint: "Mainland endpoint; international accounts use https://dashscope-intl.aliyuncs.com/compatible-mode/v1. Thinking streams in reasoning_content.",
};

pub static MOONSHOT: Preset = china! {
    kind: ProviderType::Moonshot,
    name: "moonshot",
    label: "Moonshot (Kimi)",
    default_base_url: Some("https://api.moonshot.cn/v1"),
    default_model: Some("kimi-k2.5"),
    suggested_models: &["kimi-k2.5", "kimi-k2.6", "kimi-k2-turbo-preview", "moonshot-v1-8k"],
    capabilities: Capabilities {
        vision: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.moonshot.cn/docs/api/chat"),
    hint: "Mainland endpoint; international accounts use https://api.moonshot.ai/v1. Thinking streams in reasoning_content.",
};

pub static ZHIPU: Preset = china! {
    kind: ProviderType::Zhipu,
    name: "zhipu",
    label: "Zhipu (GLM)",
    default_base_url: Some("https://open.bigmodel.cn/api/paas/v4"),
    default_model: Some("glm-4.5-flash"),
    suggested_models: &["glm-4.5-flash", "glm-4.7-flash", "glm-4.6", "glm-5.1", "embedding-3"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        images: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.bigmodel.cn/"),
    hint: "Mainland endpoint; Z.ai accounts use https://api.z.ai/api/paas/v4. Thinking is on by default and streams in reasoning_content.",
};

pub static BAIDU: Preset = china! {
    kind: ProviderType::Baidu,
    name: "baidu",
    label: "Baidu Qianfan (ERNIE)",
    default_base_url: Some("https://qianfan.baidubce.com/v2"),
    default_model: Some("ernie-4.5-turbo-128k"),
    suggested_models: &["ernie-4.5-turbo-128k", "ernie-4.5-turbo-32k", "ernie-x1.1", "ernie-5.0"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s"),
    hint: "Needs a Qianfan v2 API key (bce-v3/…); an application id, if you use one, goes in an appid header.",
};

pub static HUNYUAN: Preset = china! {
    kind: ProviderType::Hunyuan,
    name: "hunyuan",
    label: "Tencent Hunyuan",
    default_base_url: Some("https://api.hunyuan.cloud.tencent.com/v1"),
    default_model: Some("hunyuan-turbos-latest"),
    suggested_models: &["hunyuan-turbos-latest", "hunyuan-t1-latest", "hunyuan-lite", "hunyuan-embedding"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://cloud.tencent.com/document/product/1729/111007"),
    hint: "Tencent's newer TokenHub endpoint (https://tokenhub.tencentmaas.com/v1, model hy3-preview) also works as this type's base URL, with a TokenHub key.",
};

pub static MINIMAX: Preset = china! {
    kind: ProviderType::Minimax,
    name: "minimax",
    label: "MiniMax",
    default_base_url: Some("https://api.minimaxi.com/v1"),
    default_model: Some("MiniMax-M3"),
    suggested_models: &["MiniMax-M3", "MiniMax-M2.7", "MiniMax-M2.5"],
    capabilities: Capabilities {
        vision: true,
        reasoning: ReasoningField::ThinkTags,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.minimaxi.com/docs/guides/quickstart"),
    hint: "Mainland endpoint; international accounts use https://api.minimax.io/v1. Thinking comes inside <think> tags unless a request sets reasoning_split.",
};

pub static DOUBAO: Preset = china! {
    kind: ProviderType::Doubao,
    name: "doubao",
    label: "ByteDance Doubao (Volcengine Ark)",
    default_base_url: Some("https://ark.cn-beijing.volces.com/api/v3"),
    default_model: Some("doubao-seed-1-6-flash-250828"),
    suggested_models: &["doubao-seed-1-6-flash-250828", "doubao-seed-1-6-251015", "doubao-seed-1-8-251228"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        responses: true,
        images: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://www.volcengine.com/docs/82379/1330310"),
    hint: "Model names carry a version date (doubao-seed-1-6-251015); an inference endpoint id (ep-…) works as the model name too.",
};

pub static SPARK: Preset = china! {
    kind: ProviderType::Spark,
    name: "spark",
    label: "iFlytek Spark",
    default_base_url: Some("https://spark-api-open.xf-yun.com/v1"),
    default_model: Some("generalv3.5"),
    suggested_models: &["generalv3.5", "4.0Ultra", "max-32k", "pro-128k", "lite"],
    capabilities: Capabilities::CHAT,
    docs_url: Some("https://www.xfyun.cn/doc/spark/HTTP%E8%B0%83%E7%94%A8%E6%96%87%E6%A1%A3.html"),
    hint: "The key is the application's APIPassword from the iFlytek console; tools work on Max (generalv3.5) and 4.0Ultra, and the X1 reasoning models use the /v2 base URL.",
};

pub static STEPFUN: Preset = china! {
    kind: ProviderType::Stepfun,
    name: "stepfun",
    label: "StepFun",
    default_base_url: Some("https://api.stepfun.com/v1"),
    default_model: Some("step-3.5-flash"),
    suggested_models: &["step-3.5-flash", "step-3.7-flash"],
    capabilities: Capabilities {
        vision: true,
        responses: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        reasoning: ReasoningField::Reasoning,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.stepfun.com/docs/zh/api-reference/chat/chat-completion-create"),
    hint: "Reasoning streams in reasoning, or in reasoning_content when a request sets reasoning_format to deepseek-style.",
};

pub static YI: Preset = china! {
    kind: ProviderType::Yi,
    name: "yi",
    label: "01.AI (Yi)",
    default_base_url: Some("https://api.lingyiwanwu.com/v1"),
    default_model: Some("yi-lightning"),
    suggested_models: &["yi-lightning", "yi-vision-v2"],
    capabilities: Capabilities {
        vision: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.lingyiwanwu.com/docs"),
    hint: "yi-lightning is the general chat model; yi-vision-v2 takes images.",
};

pub static BAICHUAN: Preset = china! {
    kind: ProviderType::Baichuan,
    name: "baichuan",
    label: "Baichuan",
    default_base_url: Some("https://api.baichuan-ai.com/v1"),
    default_model: Some("Baichuan-M3-Plus"),
    suggested_models: &["Baichuan-M3-Plus", "Baichuan-M3", "Baichuan4-Turbo", "Baichuan-Text-Embedding"],
    capabilities: Capabilities {
        embeddings: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://platform.baichuan-ai.com/docs/api"),
    hint: "Baichuan's current models are the medical-focused M series; the Baichuan4 models remain in its API reference.",
};

pub static AI360: Preset = china! {
    kind: ProviderType::Ai360,
    name: "ai360",
    label: "360 Zhinao",
    default_base_url: Some("https://api.360.cn/v1"),
    default_model: Some("360gpt2-pro"),
    suggested_models: &["360gpt2-pro", "360gpt-turbo", "360zhinao2-o1"],
    capabilities: Capabilities {
        embeddings: true,
        responses: true,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://ai.360.com/platform/docs"),
    hint: "360's platform also serves other vendors' models under names such as deepseek/deepseek-v4-flash.",
};

pub static SILICONFLOW: Preset = china! {
    kind: ProviderType::Siliconflow,
    name: "siliconflow",
    label: "SiliconFlow",
    default_base_url: Some("https://api.siliconflow.cn/v1"),
    default_model: Some("deepseek-ai/DeepSeek-V3.2"),
    suggested_models: &["deepseek-ai/DeepSeek-V3.2", "Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B-Instruct", "BAAI/bge-m3"],
    capabilities: Capabilities {
        vision: true,
        embeddings: true,
        images: true,
        audio_speech: true,
        audio_transcriptions: true,
        rerank: true,
        reasoning: ReasoningField::ReasoningContent,
        ..Capabilities::CHAT
    },
    docs_url: Some("https://docs.siliconflow.cn/"),
    hint: "Mainland endpoint; international accounts use https://api.siliconflow.com/v1. Thinking streams in reasoning_content.",
};
