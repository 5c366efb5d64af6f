#include "batchcut/vod/lookup.hpp"

#include <boost/json.hpp>

#include "batchcut/job/validate.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace json = boost::json;

LookupQuery lookup_query(const JobSpec& job, const Lifecycle& life, std::chrono::milliseconds skew) {
  LookupQuery q;
  q.kind = job.kind;
  q.project_id = job.project_id;
  q.live_video_id = job.live_video_id;
  q.title = job.kind == JobKind::clip ? job.title : life.live_title;
  // Unknown (a hand-made ledger without its dispatch's "ts"): no window, no match taken.
  q.since_ms = life.first_cut_at_ms > 0 ? life.first_cut_at_ms - skew.count() : LookupQuery::since_unknown;
  return q;
}

std::string lookup_target(const BaseUrl& manage, const LookupQuery& query) {
  std::string t = manage.path_prefix + "/api/projects/";
  append_percent_encoded(t, query.project_id);
  t += "/videos?";
  if (!query.title.empty()) {
    t += "search=";
    append_percent_encoded(t, query.title);
    t += '&';
  }
  t += "parentVideoId=";
  append_percent_encoded(t, query.live_video_id);
  t += "&page=1&take=" + std::to_string(lookup_page_size);
  return t;
}

namespace {

LookupResult unreadable(std::string why) { return {LookupVerdict::unreadable, {}, 0, std::move(why)}; }

const json::string* string_member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

}  // namespace

LookupResult match_lookup(int http_status, std::string_view body, const LookupQuery& q) {
  if (q.since_ms == LookupQuery::since_unknown)
    return unreadable("when the first cut left is unknown, so no VOD can be told to be ours");
  if (http_status != 200) return unreadable("the video list answered HTTP " + std::to_string(http_status));
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  const json::object* result = nullptr;
  if (!ec && doc.is_object())
    if (auto* r = doc.get_object().if_contains("result"); r && r->is_object()) result = &r->get_object();
  const json::value* items_value = result ? result->if_contains("items") : nullptr;
  if (!items_value || !items_value->is_array()) return unreadable("the video list's answer has no result.items");
  const json::array& items = items_value->get_array();
  if (const json::value* total = result->if_contains("totalCount"); total && total->is_number()) {
    if (total->to_number<double>() > static_cast<double>(items.size()))
      return unreadable(std::to_string(static_cast<long long>(total->to_number<double>())) +
                        " videos answer the search, more than one page: too many to tell which is ours");
  }

  std::vector<std::string> matches;
  for (const json::value& item_value : items) {
    if (!item_value.is_object()) return unreadable("an item of the video list is not an object");
    const json::object& item = item_value.get_object();
    const json::string* id = string_member(item, "publicId");
    if (!id) id = string_member(item, "mediaId");
    if (!id || !valid_job_id(*id)) return unreadable("an item of the video list has no usable publicId");
    const json::string* title = string_member(item, "title");
    const json::string* parent = string_member(item, "parentVideoId");
    if (parent && *parent != q.live_video_id) continue;
    if (q.kind == JobKind::clip || !parent) {
      // Without a parent to go by, the title is all there is.
      if (q.title.empty())
        return unreadable("the video list names no parentVideoId, and the live video's title is unknown");
      if (!title || *title != q.title) continue;
    }
    if (q.kind == JobKind::stop_and_cut)
      if (const json::value* cut = item.if_contains("liveCutStartDate"); cut && cut->is_null()) continue;
    const json::string* inserted = string_member(item, "insertDate");
    const auto at = inserted ? parse_iso8601(*inserted) : std::nullopt;
    if (!at) return unreadable("video " + std::string(*id) + " in the list has no readable insertDate");
    const auto at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at->time_since_epoch()).count();
    if (at_ms < q.since_ms) continue;  // older than our first cut: not ours
    matches.emplace_back(*id);
  }

  LookupResult r;
  r.candidates = static_cast<int>(matches.size());
  const std::string what = q.kind == JobKind::clip ? "titled \"" + q.title + "\"" : "cut from " + q.live_video_id;
  if (matches.empty()) {
    r.verdict = LookupVerdict::none;
    r.error = "no VOD " + what + " was made since the first cut";
  } else if (matches.size() == 1) {
    r.verdict = LookupVerdict::found;
    r.video_public_id = matches.front();
    r.error = "the one VOD " + what + " made since the first cut is " + matches.front();
  } else {
    r.verdict = LookupVerdict::several;
    r.error = std::to_string(matches.size()) + " VODs " + what + " were made since the first cut: ";
    for (std::size_t i = 0; i < matches.size(); ++i) r.error += (i ? ", " : "") + matches[i];
  }
  return r;
}

}  // namespace batchcut
