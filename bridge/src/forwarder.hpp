// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "intake.hpp"
#include "status_board.hpp"
#include "upstream.hpp"

#include "edgemq/bridge/queue.hpp"
#include "edgemq/bridge/topic_rule.hpp"
#include "edgemq/broker/broker.hpp"

#include <boost/asio/io_context.hpp>

#include <deque>
#include <memory>
#include <vector>

namespace edgemq::bridge {

/// The way of one bridge's messages: from the local broker (an in-process client subscribed to
/// the outbound rules' local filters, its deliveries taken on the broker's threads by the
/// intake) into the durable queue, from the queue through the in-flight window to the upstream session,
/// out of the queue once the remote acknowledged them; and from the remote, through the inbound
/// rules, to the local broker.
/// Thread safety: close_intake() from the controlling thread; the rest on the bridge's thread.
class forwarder final : public upstream_handler {
public:
    forwarder(const config::bridge& cfg, broker::broker& broker, spdlog::logger& log,
              status_board& status);
    ~forwarder() override;

    /// The upstream session it feeds; before start().
    void attach(upstream& up) noexcept { up_ = &up; }
    /// The remote filters of the inbound rules.
    std::vector<broker::codec::subscription> remote_subscriptions() const;

    /// Opens the queue (throws std::runtime_error naming the file), then connects to the local
    /// broker and subscribes; deliveries are handed to `ctx`.
    void start(asio::io_context& ctx);
    /// Stops taking messages from the local broker (from the controlling thread).
    void close_intake();
    /// Queues what the intake took and commits the acknowledgements (before a stop: with
    /// persistence off, those messages were acknowledged to their publishers).
    void drain();
    /// The connection ended: what was read ahead is read again from the queue after the next
    /// connect; what is in flight is resent then.
    void connection_lost();

    std::size_t queued() const noexcept { return queue_->size(); }
    const std::filesystem::path& queue_file() const noexcept { return queue_->file(); }
    /// The local client (for the `$SYS` topics).
    const std::shared_ptr<broker::internal_client>& client() const noexcept { return client_; }

    // upstream_handler
    void on_connected(std::size_t resent) override;
    void on_message(broker::codec::publish p) override;
    void on_acknowledged(std::int64_t seq) override;
    void on_rejected(std::int64_t seq) override;
    void on_packets_handled() override { pump(); }

private:
    /// Queues what came from the local broker; false when the queue could not write it.
    bool on_local(std::vector<broker::message_ptr> batch);
    void drain_intake();
    void pump();
    void flush_acks();
    /// flush_acks() once the handlers already queued have run: after the writer has sent the
    /// window just refilled, so that the queue's transaction is not on the round trip.
    void flush_acks_soon();
    void update_queue_stats();

    const config::bridge& cfg_;
    broker::broker& broker_;
    spdlog::logger& log_;
    status_board& status_;
    std::vector<topic_rule> rules_;
    upstream* up_ = nullptr;
    std::unique_ptr<durable_queue> queue_;
    std::shared_ptr<broker::internal_client> client_;

    std::shared_ptr<intake> intake_ = std::make_shared<intake>();

    std::deque<queued_message> pending_; ///< read from the queue, not yet sent
    std::int64_t cursor_ = 0;            ///< the last seq sent: those up to it are in flight
    std::int64_t loaded_through_ = 0;    ///< the last seq read into memory
    bool caught_up_ = false;             ///< nothing in the queue beyond loaded_through_
    std::vector<std::int64_t> acked_seqs_;
    asio::io_context* ctx_ = nullptr;
    bool flush_posted_ = false;
};

} // namespace edgemq::bridge
